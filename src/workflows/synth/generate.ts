import fs from 'node:fs';
import path from 'node:path';
import type { Box, Label } from '../../core/types.js';
import { makeDirs, writeFileAtomic } from '../../core/files.js';
import { compositeMask, pickFinish, type FinishParams } from './composite.js';
import { fitFace, type FittedFace } from './face-fit.js';
import type { RgbImage } from '../../core/image.js';
import { faceCropRegion } from '../../vision/face-crop.js';
import { readImageFile } from '../../vision/image-decode.js';
import { cropBox } from './image.js';
import type { Landmarker } from './landmarker.js';
import { maskVisibility, placeMask, type MaskGeometry, type Variant } from './mask-geometry.js';
import { maskSvg, pickPlacement, pickStyle, type MaskStyle } from './mask-style.js';
import { createRandom, hashSeed, type Random } from './random.js';
import type { SourceFace } from './sources.js';

export const GENERATOR = 'maskwatch synth';

export interface SynthItem {
  file: string;
  label: Label;
  source: string;
  box?: number;
  variant: Variant;
  style: MaskStyle & { finish: FinishParams };
}

export interface Skipped {
  source: string;
  box?: number;
  reason: string;
}

export interface SynthManifest {
  generator: typeof GENERATOR;
  seed: number;
  margin: number;
  /** leftOut: crops not written because too little of the mask would show (face cut off by the picture's edge). */
  counts: { faces: number; mask: number; mask_incorrect: number; skipped: number; leftOut: number };
  items: SynthItem[];
  skipped: Skipped[];
}

export interface SynthOptions {
  outDir: string;
  /** Crops per accepted face; a fraction adds one more crop with that probability. */
  perFace: number;
  /** Crops per VOC box face (default perFace): whole-scene faces are rarer and closer to what the camera sees. */
  vocPerFace?: number;
  /** Share of crops that are mask_incorrect (the rest are mask). */
  incorrectShare: number;
  seed: number;
  /** The trainer's crop margin around the face box (each side, × the box's longer side). */
  margin: number;
  /** Longer side of the written crops at most (bigger faces are scaled down before drawing). */
  maxSide: number;
  minFaceScore: number;
  minFacePx: number;
  /** Faces processed at once (sharp work overlaps the landmark model). */
  concurrency: number;
}

export const DEFAULT_SYNTH: Omit<SynthOptions, 'outDir'> = {
  perFace: 1, incorrectShare: 0.7, seed: 1, margin: 0.15, maxSide: 256, minFaceScore: 0.5, minFacePx: 32, concurrency: 3,
};

const MIN_VISIBLE = 0.4;
const MIN_COVER = 0.06;
const RAISE: Variant[] = ['chin_only', 'below_mouth', 'below_nose'];
const fallbacks = (v: Variant): Variant[] => (RAISE.includes(v) ? RAISE.slice(RAISE.indexOf(v) + 1) : []);

const INCORRECT_WEIGHTS = { below_nose: 0.4, below_mouth: 0.35, chin_only: 0.25 } as const;

/** One masked crop of a fitted face: the JPEG, the mask's alpha over the crop, and what was drawn. */
export interface MaskedCrop {
  /** The variant drawn: a lower one is raised when too little of it would show in the crop. */
  variant: Variant;
  jpeg: Buffer;
  alpha: Uint8Array;
  width: number;
  height: number;
  /** Landmarks in crop pixels. */
  points: Float32Array;
  geometry: MaskGeometry;
  style: MaskStyle;
  finish: FinishParams;
  cropBox: Box;
}

export async function drawMaskedCrop(img: RgbImage, face: FittedFace, variant: Variant, rng: Random, opts: Pick<SynthOptions, 'margin' | 'maxSide'>): Promise<MaskedCrop> {
  const box = faceCropRegion(face.box, img, opts.margin);
  const crop = await cropBox(img, box, opts.maxSide);
  const points = new Float32Array(face.points.length);
  for (let i = 0; i < points.length; i += 3) {
    points[i] = (face.points[i] - box.x) * crop.scale;
    points[i + 1] = (face.points[i + 1] - box.y) * crop.scale;
    points[i + 2] = face.points[i + 2] * crop.scale;
  }
  const style = pickStyle(rng);
  let geometry = placeMask(points, pickPlacement(rng, variant, style.shape));
  // On a crop that ends at the chin, a lowered mask mostly falls outside: raise it one step at a time.
  let used = variant;
  for (const higher of fallbacks(variant)) {
    const seen = maskVisibility(geometry, crop.width, crop.height);
    if (seen.inside >= MIN_VISIBLE && seen.cover >= MIN_COVER) break;
    used = higher;
    geometry = placeMask(points, pickPlacement(rng, higher, style.shape));
  }
  style.edgeBlur *= Math.max(0.5, Math.min(2, geometry.faceHeight / 120));
  const finish = pickFinish(rng);
  const svg = maskSvg(crop.width, crop.height, geometry, style, rng);
  const { jpeg, alpha } = await compositeMask(crop, svg, finish, rng);
  return { variant: used, jpeg, alpha, width: crop.width, height: crop.height, points, geometry, style, finish, cropBox: box };
}

function slug(face: SourceFace): string {
  const base = face.photoId.replace(/\.[^./]+$/, '').replace(/[^A-Za-z0-9._-]+/g, '_');
  return face.boxIndex === undefined ? base : `${base}-b${face.boxIndex}`;
}

/** Throws unless the folder is new, empty of crops, or written by synth: a run never overwrites someone else's files. */
function checkOwnFolder(outDir: string): void {
  const manifestFile = path.join(outDir, 'manifest.json');
  if (!fs.existsSync(outDir)) return;
  if (!fs.existsSync(manifestFile)) {
    const busy = ['mask', 'mask_incorrect'].some((d) => fs.existsSync(path.join(outDir, d)) && fs.readdirSync(path.join(outDir, d)).length > 0);
    if (busy) throw new Error(`${outDir}: holds crops but no manifest.json; not overwriting a folder synth did not write`);
    return;
  }
  const old = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Partial<SynthManifest>;
  if (old.generator !== GENERATOR) throw new Error(`${manifestFile}: not written by ${GENERATOR}; not overwriting`);
}

/** Removes the crops a previous run listed, so the folder holds exactly this run's output. */
function clearPrevious(outDir: string): void {
  const manifestFile = path.join(outDir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) return;
  const old = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Partial<SynthManifest>;
  fs.rmSync(manifestFile);
  const root = path.resolve(outDir) + path.sep;
  for (const item of old.items ?? []) {
    const file = path.resolve(outDir, String(item.file));
    if (file.startsWith(root)) fs.rmSync(file, { force: true });
  }
}

export type ProgressFn = (done: number, total: number, counts: SynthManifest['counts']) => void;
export type WarnFn = (line: string) => void;

/** Fits every source face, draws perFace masked crops on each, writes them and then the manifest. */
export async function synthesize(faces: SourceFace[], landmarker: Landmarker, options: SynthOptions, onProgress?: ProgressFn, warn?: WarnFn, skippedBefore: Skipped[] = []): Promise<SynthManifest> {
  checkOwnFolder(options.outDir);
  // Crops go to a folder beside the output first: a run that makes none (or fails) leaves the last run's output as it was.
  const out = path.resolve(options.outDir);
  const staging = path.join(path.dirname(out), `.${path.basename(out)}.synth-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  const perFace: (SynthItem[] | Skipped)[] = new Array(faces.length);
  const counts = { faces: 0, mask: 0, mask_incorrect: 0, skipped: skippedBefore.length, leftOut: 0 };
  let next = 0, done = 0;
  const skip = (i: number, face: SourceFace, reason: string) => {
    perFace[i] = { source: face.photoId, ...(face.boxIndex === undefined ? {} : { box: face.boxIndex }), reason };
    counts.skipped++;
    warn?.(`skipped ${face.photoId}${face.boxIndex === undefined ? '' : ` box ${face.boxIndex}`}: ${reason}`);
  };
  const work = async (i: number): Promise<void> => {
    const face = faces[i];
    let img: RgbImage;
    try {
      img = await readImageFile(face.file);
    } catch (err) {
      return skip(i, face, `unreadable image (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
    }
    const fit = await fitFace(img, face.region, landmarker, options);
    if (!fit.ok) return skip(i, face, fit.reason);
    const faceRng = createRandom(hashSeed(options.seed, face.photoId, face.boxIndex ?? -1));
    const per = face.region ? (options.vocPerFace ?? options.perFace) : options.perFace;
    const whole = Math.floor(per);
    const n = whole + (faceRng.chance(per - whole) ? 1 : 0);
    const items: SynthItem[] = [];
    for (let k = 0; k < n; k++) {
      const rng = createRandom(hashSeed(options.seed, face.photoId, face.boxIndex ?? -1, k));
      const label: Label = rng.chance(options.incorrectShare) ? 'mask_incorrect' : 'mask';
      const variant: Variant = label === 'mask' ? 'correct' : rng.weighted(INCORRECT_WEIGHTS);
      const drawn = await drawMaskedCrop(img, fit.face, variant, rng, options);
      const seen = maskVisibility(drawn.geometry, drawn.width, drawn.height);
      if (seen.inside < MIN_VISIBLE || seen.cover < MIN_COVER) {
        counts.leftOut++;
        continue;
      }
      const file = `${label}/${slug(face)}-${k}.jpg`;
      writeFileAtomic(path.join(staging, file), drawn.jpeg);
      items.push({ file, label, source: face.photoId, ...(face.boxIndex === undefined ? {} : { box: face.boxIndex }), variant: drawn.variant, style: { ...drawn.style, finish: drawn.finish } });
      counts[label]++;
    }
    counts.faces++;
    perFace[i] = items;
  };
  const runner = async () => {
    while (next < faces.length) {
      const i = next++;
      try {
        await work(i);
      } catch (err) {
        skip(i, faces[i], `failed (${err instanceof Error ? err.message : String(err)})`);
      }
      onProgress?.(++done, faces.length, counts);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, runner));
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  const manifest: SynthManifest = {
    generator: GENERATOR,
    seed: options.seed,
    margin: options.margin,
    counts,
    items: perFace.filter((r): r is SynthItem[] => Array.isArray(r)).flat(),
    skipped: [...skippedBefore, ...perFace.filter((r): r is Skipped => !!r && !Array.isArray(r))],
  };
  if (manifest.items.length === 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    return manifest;
  }
  clearPrevious(out);
  for (const item of manifest.items) {
    makeDirs(path.dirname(path.join(out, item.file)));
    fs.renameSync(path.join(staging, item.file), path.join(out, item.file));
  }
  fs.rmSync(staging, { recursive: true, force: true });
  writeFileAtomic(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}
