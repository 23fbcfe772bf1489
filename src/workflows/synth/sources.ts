import fs from 'node:fs';
import path from 'node:path';
import type { Box } from '../../core/types.js';
import { normalizeLabel } from '../../core/labels.js';

/** One face to put masks on: a whole picture that is mostly one face, or a VOC box in a photo. */
export interface SourceFace {
  /** `<dataset root basename>/<image path relative to the root>`: the trainer groups splits by it. */
  photoId: string;
  file: string;
  region: Box | null;
  /** Index of the box among the photo's objects (VOC only). */
  boxIndex?: number;
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']);

function photoId(root: string, file: string): string {
  return `${path.basename(path.resolve(root))}/${path.relative(root, file).split(path.sep).join('/')}`;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (IMAGE_EXT.has(path.extname(entry.name).toLowerCase())) out.push(full);
  }
  return out;
}

/** Every picture under a folder (recursively, sorted), each taken as one face. */
export function folderFaces(dir: string): SourceFace[] {
  if (!fs.existsSync(dir)) throw new Error(`--from ${dir}: no such folder`);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`--from ${dir}: not a folder`);
  return walk(dir).map((file) => ({ photoId: photoId(dir, file), file, region: null }));
}

const tag = (xml: string, name: string): string | undefined => xml.match(new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`))?.[1];

export interface VocScan {
  faces: SourceFace[];
  /** Boxes of the wanted label left out for being smaller than minSide. */
  tooSmall: number;
  /** Annotation files that could not be read, with the reason. */
  broken: { source: string; reason: string }[];
}

/**
 * Boxes labelled no_mask (without_mask) in a Pascal VOC root (annotations/*.xml, images named by <filename>)
 * whose shorter side is at least minSide pixels.
 */
export function vocUnmaskedFaces(root: string, minSide: number): VocScan {
  const annDir = path.join(root, 'annotations');
  if (!fs.existsSync(annDir)) throw new Error(`--voc-root ${root}: no annotations/ folder`);
  const scan: VocScan = { faces: [], tooSmall: 0, broken: [] };
  const files = fs.readdirSync(annDir).filter((f) => f.endsWith('.xml')).sort();
  for (const name of files) {
    const xmlFile = path.join(annDir, name);
    const xml = fs.readFileSync(xmlFile, 'utf8');
    const filename = tag(xml, 'filename');
    if (!filename) {
      scan.broken.push({ source: photoId(root, xmlFile), reason: 'annotation has no <filename>' });
      continue;
    }
    const image = [path.join(root, 'images', filename), path.join(root, filename)].find((f) => fs.existsSync(f));
    if (!image) {
      scan.broken.push({ source: photoId(root, path.join(root, 'images', filename)), reason: 'image file missing' });
      continue;
    }
    const objects = xml.match(/<object>[\s\S]*?<\/object>/g) ?? [];
    objects.forEach((obj, boxIndex) => {
      if (normalizeLabel(tag(obj, 'name') ?? '') !== 'no_mask') return;
      const [x0, y0, x1, y1] = ['xmin', 'ymin', 'xmax', 'ymax'].map((k) => Number(tag(obj, k)));
      if (![x0, y0, x1, y1].every(Number.isFinite) || x1 <= x0 || y1 <= y0) {
        scan.broken.push({ source: photoId(root, image), reason: `box ${boxIndex} has bad coordinates` });
        return;
      }
      if (Math.min(x1 - x0, y1 - y0) < minSide) {
        scan.tooSmall++;
        return;
      }
      scan.faces.push({ photoId: photoId(root, image), file: image, region: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, boxIndex });
    });
  }
  return scan;
}
