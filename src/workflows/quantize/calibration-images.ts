/** Calibration inputs from pictures: a folder of face crops, or the faces of a labelled data root. */
import fs from 'node:fs';
import path from 'node:path';
import type { RgbImage } from '../../core/image.js';
import { faceInputs, faceView } from '../../vision/face-crop.js';
import { readImageFile } from '../../vision/image-decode.js';
import { scanRoot } from '../data/datasets.js';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp']);

/** Image files under a folder (recursively), sorted so a sample of them is the same on every run. */
export function listImageFiles(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`calibration folder ${dir}: no such folder`);
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_EXT.has(path.extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** `count` items spread evenly over the list (all of them when there are fewer). */
export function spreadSample<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}

/** One picture of a face crop → the model input through the one crop path (the whole picture is the face). */
export async function cropFileToInput(file: string, size: number): Promise<Float32Array> {
  let image: RgbImage;
  try {
    image = await readImageFile(file);
  } catch (err) {
    throw new Error(`calibration image ${(err as Error).message}`);
  }
  return faceInputs([faceView(image, null, 0)], size);
}

/** Face crops of a data root (VOC, class folders or a flat folder), cut with the model's crop margin. */
export async function loadDataRootFaces(root: string, size: number, margin: number, count: number): Promise<{ inputs: Float32Array[]; photos: number }> {
  if (!fs.existsSync(root)) throw new Error(`data root ${root}: no such folder`);
  const scanned = scanRoot({ path: root });
  const faces = scanned.photos.flatMap((p) => p.faces.map((face) => ({ file: p.file, box: face.box })));
  const chosen = spreadSample(faces, count);
  if (!chosen.length) throw new Error(`data root ${root}: no faces found in it`);
  const inputs: Float32Array[] = [];
  const byFile = new Map<string, typeof chosen>();
  for (const f of chosen) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  for (const [file, list] of byFile) {
    const image = await readImageFile(file);
    for (const f of list) inputs.push(faceInputs([faceView(image, f.box, margin)], size));
  }
  return { inputs, photos: byFile.size };
}
