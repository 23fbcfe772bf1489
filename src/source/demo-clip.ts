import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Label } from '../core/types.js';
import { sha256, sha256File, writeFileAtomic } from '../core/files.js';
import { createLogger } from '../core/log.js';

const log = createLogger('demo');

/** The faces the project ships (assets/demo, see its LICENSE.md), in the order the demo clip shows them. */
export const DEMO_PEOPLE: ReadonlyArray<{ file: string; label: Label }> = [
  { file: 'mask-1.jpg', label: 'mask' },
  { file: 'no_mask-1.jpg', label: 'no_mask' },
  { file: 'mask_incorrect-1.jpg', label: 'mask_incorrect' },
  { file: 'no_mask-2.jpg', label: 'no_mask' },
  { file: 'mask-2.jpg', label: 'mask' },
  { file: 'mask_incorrect-2.jpg', label: 'mask_incorrect' },
  { file: 'no_mask-3.jpg', label: 'no_mask' },
];

export const DEMO_ASSETS_DIR = fileURLToPath(new URL('../../assets/demo/', import.meta.url));

export interface ClipPerson {
  /** An image file or its bytes: a face crop. */
  image: string | Buffer;
  label: Label;
}

export interface ClipOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Face size in the frame (px, longer side). */
  faceSize?: number;
  /** How long each group of faces is in view. */
  showMs?: number;
  /** Empty frames after each group. */
  gapMs?: number;
  /** Faces side by side in each group (1 = person after person). */
  facesPerFrame?: number;
  quality?: number;
}

/** One group of faces in view: frames [startFrame, endFrame). */
export interface ClipSegment {
  labels: Label[];
  images: string[];
  startFrame: number;
  endFrame: number;
  startMs: number;
  endMs: number;
}

export interface ClipSequence {
  width: number;
  height: number;
  fps: number;
  frames: number;
  segments: ClipSegment[];
  /** The labels in the order a viewer should decide them, one per person. */
  expected: Label[];
  assetsHash?: string;
  /** The built clip's sha256: a clip damaged since (truncated, emptied) is built again, not played. */
  clipSha256?: string;
}

const DEFAULTS: Required<ClipOptions> = { width: 640, height: 480, fps: 10, faceSize: 300, showMs: 2500, gapMs: 1500, facesPerFrame: 1, quality: 80 };
const BUILDER_VERSION = 1;

/**
 * Renders a clip: each group of faces (upscaled to faceSize on a neutral background) in
 * view for showMs with a small drift, then gapMs of empty frames. Returns JPEG frames.
 */
export async function buildClip(people: ClipPerson[], options: ClipOptions = {}): Promise<{ frames: Buffer[]; sequence: ClipSequence }> {
  const o = { ...DEFAULTS, ...options };
  if (people.length === 0) throw new Error('demo clip: no faces given');
  const { default: sharp } = await import('sharp');
  const background = await sharp({ create: { width: o.width, height: o.height, channels: 3, background: { r: 128, g: 128, b: 124 } } })
    .png()
    .toBuffer();
  const empty = await sharp(background).jpeg({ quality: o.quality }).toBuffer();
  const showFrames = Math.max(1, Math.round((o.showMs * o.fps) / 1000));
  const gapFrames = Math.round((o.gapMs * o.fps) / 1000);
  const slotWidth = Math.floor(o.width / o.facesPerFrame);
  const faceSize = Math.min(o.faceSize, slotWidth - 16, o.height - 40);
  const frames: Buffer[] = [];
  const segments: ClipSegment[] = [];
  for (let g = 0; g < people.length; g += o.facesPerFrame) {
    const group = people.slice(g, g + o.facesPerFrame);
    const faces = await Promise.all(
      group.map(async (p) => {
        const input = typeof p.image === 'string' ? fs.readFileSync(p.image) : p.image;
        const { data, info } = await sharp(input).resize(faceSize, faceSize, { fit: 'inside' }).png().toBuffer({ resolveWithObject: true });
        return { data, w: info.width, h: info.height };
      }),
    );
    const start = frames.length;
    // frames of a group are encoded concurrently (libvips threads): the first start of the demo is faster
    const rendered = Array.from({ length: showFrames }, (_, i) => {
      const t = i / showFrames;
      const composite = faces.map((f, k) => {
        // small drift: a person stepping closer and sideways, never leaving their slot
        const dx = Math.round(10 * Math.sin(2 * Math.PI * t + k));
        const dy = Math.round(6 * Math.sin(4 * Math.PI * t + k));
        const left = Math.min(o.width - f.w, Math.max(0, k * slotWidth + Math.round((slotWidth - f.w) / 2) + dx));
        const top = Math.min(o.height - f.h, Math.max(0, Math.round((o.height - f.h) / 2) + dy));
        return { input: f.data, left, top };
      });
      return sharp(background).composite(composite).jpeg({ quality: o.quality }).toBuffer();
    });
    frames.push(...(await Promise.all(rendered)));
    segments.push({
      labels: group.map((p) => p.label),
      images: group.map((p) => (typeof p.image === 'string' ? path.basename(p.image) : '(buffer)')),
      startFrame: start,
      endFrame: frames.length,
      startMs: Math.round((start * 1000) / o.fps),
      endMs: Math.round((frames.length * 1000) / o.fps),
    });
    for (let i = 0; i < gapFrames; i++) frames.push(empty);
  }
  const expected = segments.flatMap((s) => s.labels);
  return { frames, sequence: { width: o.width, height: o.height, fps: o.fps, frames: frames.length, segments, expected } };
}

export interface DemoClip {
  clipPath: string;
  sequencePath: string;
  sequence: ClipSequence;
}

/**
 * The demo clip, built once into <stateDir>/demo/ and rebuilt when the shipped faces
 * (or the builder) change. The clip is an .mjpeg file: concatenated JPEGs (ffmpeg -f mjpeg reads it).
 */
export async function ensureDemoClip(stateDir: string, assetsDir = DEMO_ASSETS_DIR, clipOptions: ClipOptions = {}): Promise<DemoClip> {
  const people = DEMO_PEOPLE.map((p) => ({ image: path.join(assetsDir, p.file), label: p.label }));
  const hashInput: Buffer[] = [Buffer.from(`v${BUILDER_VERSION} ${JSON.stringify(clipOptions)}\n`)];
  for (const p of people) {
    if (!fs.existsSync(p.image)) throw new Error(`demo clip: missing face image ${p.image}`);
    hashInput.push(Buffer.from(`${path.basename(p.image)}:${p.label}\n`), fs.readFileSync(p.image));
  }
  const assetsHash = sha256(Buffer.concat(hashInput));
  const dir = path.join(stateDir, 'demo');
  const clipPath = path.join(dir, 'demo.mjpeg');
  const sequencePath = path.join(dir, 'demo.json');
  try {
    const cached = JSON.parse(fs.readFileSync(sequencePath, 'utf8')) as ClipSequence;
    if (cached.assetsHash === assetsHash && fs.existsSync(clipPath)) {
      if (cached.clipSha256 === sha256File(clipPath)) return { clipPath, sequencePath, sequence: cached };
      log.warn(`${clipPath} is not the clip that was built (damaged or changed): building it again`);
    }
  } catch {
    /* not built yet */
  }
  log.info(`building the demo clip in ${dir}`);
  const { frames, sequence } = await buildClip(people, clipOptions);
  sequence.assetsHash = assetsHash;
  const clip = Buffer.concat(frames);
  sequence.clipSha256 = sha256(clip);
  // clip first, sidecar last: the sidecar's hashes mark a complete clip
  writeFileAtomic(clipPath, clip);
  writeFileAtomic(sequencePath, JSON.stringify(sequence, null, 2) + '\n');
  return { clipPath, sequencePath, sequence };
}
