import fs from 'node:fs';
import path from 'node:path';
import { normalizeLabel, isLabel } from '../../core/labels.js';
import { createLogger } from '../../core/log.js';
import type { Box, Label } from '../../core/types.js';

/**
 * Labelled face data on disk, in one of three layouts, detected per root:
 *  - Pascal VOC: root/annotations/*.xml (+ root/images/<filename>), one crop per <object>;
 *  - class folders: root/{class}/*.jpg, class names through normalizeLabel;
 *  - a flat folder of face crops of one label: `root=no_mask`, or a folder whose name starts with a label word.
 */
const log = createLogger('datasets');
const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp']);

export interface DataRootSpec {
  path: string;
  /** Label of every picture in a flat folder. */
  label?: Label;
}

export type RootKind = 'voc' | 'folders' | 'flat';

/** One face in a photo: its box in pixels, or null when the whole picture is the face crop. */
export interface PhotoFace {
  label: Label;
  box: Box | null;
}

export interface Photo {
  /** `<basename of root>/<path relative to root>`: the unit the split keeps together. */
  photoId: string;
  file: string;
  faces: PhotoFace[];
}

export interface ScannedRoot {
  spec: DataRootSpec;
  kind: RootKind;
  photos: Photo[];
  /** Objects or files left out while scanning, by reason. */
  skipped: Record<string, number>;
}

/** "path" or "path=label" (the label for a flat folder). */
export function parseDataSpec(text: string): DataRootSpec {
  const eq = text.lastIndexOf('=');
  if (eq > 0) {
    const label = normalizeLabel(text.slice(eq + 1));
    if (!label) throw new Error(`data root ${text}: "${text.slice(eq + 1)}" is not a label (mask, no_mask, mask_incorrect or an alias)`);
    return { path: text.slice(0, eq), label };
  }
  return { path: text };
}

function isImage(name: string): boolean {
  return IMAGE_EXT.has(path.extname(name).toLowerCase());
}

function listImages(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && isImage(d.name))
    .map((d) => d.name)
    .sort();
}

function findDir(root: string, names: string[]): string | undefined {
  for (const n of names) {
    const p = path.join(root, n);
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) return p;
  }
  return undefined;
}

function labelFromFolderName(name: string): Label | undefined {
  return normalizeLabel(name) ?? normalizeLabel(name.split(/[-_\s]+/)[0] ?? '');
}

export function detectKind(spec: DataRootSpec): RootKind {
  const root = spec.path;
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`data root ${root}: no such folder`);
  const ann = findDir(root, ['annotations', 'Annotations']);
  if (ann && fs.readdirSync(ann).some((f) => f.toLowerCase().endsWith('.xml'))) return 'voc';
  const entries = fs.readdirSync(root, { withFileTypes: true });
  if (entries.some((d) => d.isDirectory() && normalizeLabel(d.name))) return 'folders';
  if (entries.some((d) => d.isFile() && isImage(d.name))) {
    if (spec.label || labelFromFolderName(path.basename(path.resolve(root)))) return 'flat';
    throw new Error(`data root ${root}: a flat folder of pictures; name its label as ${root}=no_mask (or mask, mask_incorrect)`);
  }
  throw new Error(`data root ${root}: neither Pascal VOC (annotations/*.xml), class folders (mask/, no_mask/, ...) nor a folder of pictures`);
}

function tagText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`).exec(xml);
  return m?.[1];
}

/** The objects of one Pascal VOC annotation; throws on a malformed file. */
export function parseVocXml(xml: string): { filename: string | undefined; objects: Array<{ name: string; box: Box }> } {
  const objects: Array<{ name: string; box: Box }> = [];
  for (const m of xml.matchAll(/<object>([\s\S]*?)<\/object>/g)) {
    const body = m[1];
    const name = tagText(body, 'name');
    const bnd = /<bndbox>([\s\S]*?)<\/bndbox>/.exec(body)?.[1];
    if (!name || !bnd) throw new Error('an <object> without <name> or <bndbox>');
    const [xmin, ymin, xmax, ymax] = ['xmin', 'ymin', 'xmax', 'ymax'].map((t) => Number(tagText(bnd, t)));
    if (![xmin, ymin, xmax, ymax].every(Number.isFinite)) throw new Error(`object ${name}: bndbox is not four numbers`);
    objects.push({ name, box: { x: xmin, y: ymin, w: xmax - xmin, h: ymax - ymin } });
  }
  return { filename: tagText(xml, 'filename'), objects };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function photoIdOf(root: string, file: string): string {
  return `${path.basename(path.resolve(root))}/${path.relative(root, file).split(path.sep).join('/')}`;
}

function scanVoc(spec: DataRootSpec, skipped: Record<string, number>): Photo[] {
  const root = spec.path;
  const annDir = findDir(root, ['annotations', 'Annotations'])!;
  const imgDir = findDir(root, ['images', 'JPEGImages']) ?? root;
  const photos: Photo[] = [];
  for (const name of fs.readdirSync(annDir).filter((f) => f.toLowerCase().endsWith('.xml')).sort()) {
    const xmlFile = path.join(annDir, name);
    let parsed: ReturnType<typeof parseVocXml>;
    try {
      parsed = parseVocXml(fs.readFileSync(xmlFile, 'utf8'));
    } catch (err) {
      log.warn(`annotation ${xmlFile}: ${(err as Error).message}; skipped`);
      bump(skipped, 'bad annotation');
      continue;
    }
    const stem = path.basename(name, path.extname(name));
    const candidates = [parsed.filename, `${stem}.jpg`, `${stem}.jpeg`, `${stem}.png`].filter((c): c is string => !!c);
    const file = candidates.map((c) => path.join(imgDir, path.basename(c))).find((f) => fs.existsSync(f));
    if (!file) {
      log.warn(`annotation ${xmlFile}: its picture ${parsed.filename ?? stem} is not in ${imgDir}; skipped`);
      bump(skipped, 'missing picture');
      continue;
    }
    const faces: PhotoFace[] = [];
    for (const obj of parsed.objects) {
      const label = normalizeLabel(obj.name);
      if (!label) {
        bump(skipped, `unknown label ${obj.name}`);
        continue;
      }
      if (obj.box.w < 1 || obj.box.h < 1) {
        bump(skipped, 'empty box');
        continue;
      }
      faces.push({ label, box: obj.box });
    }
    if (faces.length) photos.push({ photoId: photoIdOf(root, file), file, faces });
  }
  return photos;
}

function scanFolders(spec: DataRootSpec, skipped: Record<string, number>): Photo[] {
  const photos: Photo[] = [];
  for (const d of fs.readdirSync(spec.path, { withFileTypes: true }).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const label = normalizeLabel(d.name);
    if (!label) {
      log.warn(`data root ${spec.path}: folder ${d.name} is not a label; skipped`);
      bump(skipped, `unknown folder ${d.name}`);
      continue;
    }
    const dir = path.join(spec.path, d.name);
    for (const f of listImages(dir)) {
      const file = path.join(dir, f);
      photos.push({ photoId: photoIdOf(spec.path, file), file, faces: [{ label, box: null }] });
    }
  }
  return photos;
}

function scanFlat(spec: DataRootSpec): Photo[] {
  const label = spec.label ?? labelFromFolderName(path.basename(path.resolve(spec.path)))!;
  if (!spec.label) log.info(`data root ${spec.path}: a flat folder of pictures, labelled ${label} from its name`);
  return listImages(spec.path).map((f) => {
    const file = path.join(spec.path, f);
    return { photoId: photoIdOf(spec.path, file), file, faces: [{ label, box: null }] };
  });
}

export function scanRoot(spec: DataRootSpec): ScannedRoot {
  if (spec.label && !isLabel(spec.label)) throw new Error(`data root ${spec.path}: label ${String(spec.label)} is not one of ours`);
  const kind = detectKind(spec);
  const skipped: Record<string, number> = {};
  const photos = kind === 'voc' ? scanVoc(spec, skipped) : kind === 'folders' ? scanFolders(spec, skipped) : scanFlat(spec);
  for (const [reason, n] of Object.entries(skipped)) log.info(`data root ${spec.path}: ${n} × ${reason} left out`);
  return { spec, kind, photos, skipped };
}

/** Scans several roots; photo ids must be unique across them (two roots with the same folder name clash). */
export function scanRoots(specs: DataRootSpec[]): ScannedRoot[] {
  const roots = specs.map(scanRoot);
  const seen = new Map<string, string>();
  for (const r of roots) {
    const base = path.basename(path.resolve(r.spec.path));
    const other = seen.get(base);
    if (other !== undefined) throw new Error(`data roots ${other} and ${r.spec.path}: same folder name ${base}, so their photo ids would clash`);
    seen.set(base, r.spec.path);
  }
  return roots;
}
