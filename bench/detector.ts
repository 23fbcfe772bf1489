/**
 * Face detector latency, batch 1, on a 640×480 frame (a real photo): the whole detect() (letterbox resize +
 * normalise, ORT run, decode, NMS) and its parts, for BlazeFace front (128) and back (256), ORT intra-op
 * threads 1 and 2. Also the letterbox step done by sharp instead of the own bilinear resize, for comparison.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './stats.js';
import type { Frame } from '../src/core/types.js';
import { BlazeFaceDetector } from '../src/vision/blazeface-detector.js';
import { letterboxRegion } from '../src/vision/resample.js';
import { timeCalls } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WARMUP = 15;
const RUNS = 150;
const FRONT_TARGET_MS = 5;


const time = (fn: () => unknown) => timeCalls(fn, RUNS, WARMUP);

function row(name: string, t: { median: number; p90: number; cpuMs: number }, extra: Partial<BenchRow> = {}): BenchRow {
  const note = [`CPU ${t.cpuMs.toFixed(2)} ms/call`, extra.note].filter(Boolean).join(', ');
  return { section: 'detector', name, median: t.median, p90: t.p90, unit: 'ms', ...extra, note };
}

async function frame640(): Promise<Frame> {
  const sharp = (await import('sharp')).default;
  const { data, info } = await sharp(path.join(ROOT, 'test/fixtures/faces/sample5.jpg')).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { seq: 0, capturedAt: 0, width: info.width, height: info.height, rgb: data };
}

export async function run(): Promise<BenchRow[]> {
  const frame = await frame640();
  const rows: BenchRow[] = [];
  for (const variant of ['front', 'back'] as const) {
    for (const [threads, spin] of [[1, true], [2, true], [2, false]] as const) {
      const det = new BlazeFaceDetector({ variant, scoreThreshold: 0.75, iouThreshold: 0.3, minFaceSize: 0, maxFaces: 10, intraOpNumThreads: threads, allowSpinning: spin });
      await det.start();
      try {
        const faces = (await det.detect(frame)).length;
        const full = await time(() => det.detect(frame));
        const bare = await time(() => det.infer());
        const t = threads === 1 ? '1 thread' : `${threads} threads${spin ? '' : ' no spinning'}`;
        const target = variant === 'front' ? { target: `≤ ${FRONT_TARGET_MS} ms`, pass: full.median <= FRONT_TARGET_MS } : {};
        rows.push(row(`${variant} ${det.inputSize} detect() 640×480, ${t}`, full, { ...target, note: `${faces} faces found` }));
        rows.push(row(`${variant} ${det.inputSize} bare model run, ${t}`, bare));
        if (threads === 1) rows.push(row(`${variant} ${det.inputSize} letterbox+normalise (own bilinear)`, await time(() => det.preprocess(frame))));
      } finally {
        await det.close();
      }
    }
  }
  rows.push(row('front 128 letterbox via sharp (raw → resize → raw, for comparison)', await time(() => sharpLetterbox(frame, 128))));
  return rows;
}

async function sharpLetterbox(frame: Frame, size: number): Promise<Float32Array> {
  const sharp = (await import('sharp')).default;
  const region = letterboxRegion(frame.width, frame.height);
  const pad = Math.round(-region.y);
  const raw = await sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .extend({ top: pad, bottom: pad, left: 0, right: 0, background: { r: 0, g: 0, b: 0 } })
    .resize(size, size, { kernel: 'linear' })
    .raw()
    .toBuffer();
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]! / 127.5 - 1;
  return out;
}
