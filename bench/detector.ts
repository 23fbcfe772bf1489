/**
 * Face detector latency, batch 1, on a 640×480 frame (a real photo): the whole detect() (resize + normalise, ORT run,
 * decode, NMS) and the bare model run, for the default AIZOO SSD (float and int8, with the CPU's int8 features, and
 * what precision auto picks), BlazeFace front (128) and back (256), ORT intra-op threads 1 and 2. Also the letterbox
 * step done by sharp instead of the own bilinear resize, for comparison.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './stats.js';
import type { Frame } from '../src/core/types.js';
import { loadConfig } from '../src/config/load.js';
import { BlazeFaceDetector } from '../src/vision/blazeface-detector.js';
import { createFaceDetector, resolveDetectorPrecision } from '../src/vision/create-face-detector.js';
import { describeCpuInt8 } from '../src/vision/precision-choice.js';
import { letterboxRegion } from '../src/vision/resample.js';
import { SsdFaceDetector, ssdModelFile } from '../src/vision/ssd-detector.js';
import { autoChoiceRow, quantile, timeCalls } from './stats.js';

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

/** The default detector, float against int8 (1 thread, as the daemon runs it), and what auto chooses. */
async function ssdRows(frame: Frame): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const settings = loadConfig({ env: {} }).config.detector;
  const int8Features = describeCpuInt8();
  const timed: Record<'float' | 'int8', { median: number; p90: number; cpuMs: number }> = {} as never;
  for (const precision of ['float', 'int8'] as const) {
    const det = (await createFaceDetector({ ...settings, precision })) as SsdFaceDetector;
    try {
      const faces = (await det.detect(frame)).length;
      const full = await time(() => det.detect(frame));
      timed[precision] = full;
      rows.push(row(`ssd ${settings.inputSize} ${precision} detect() 640×480, 1 thread`, full, { note: `${faces} faces found${precision === 'int8' ? `; int8: ${int8Features}` : ''}` }));
      det.preprocess(frame);
      rows.push(row(`ssd ${settings.inputSize} ${precision} bare model run, 1 thread`, await time(() => det.infer())));
    } finally {
      await det.close();
    }
  }
  const ratio = timed.int8.median / timed.float.median;
  rows.push({ section: 'detector', name: `ssd ${settings.inputSize} int8/float detect(), 1 thread`, value: ratio, unit: '×', note: `CPU-time ratio ${(timed.int8.cpuMs / timed.float.cpuMs).toFixed(2)}; int8: ${int8Features}` });
  rows.push(...(await paddedStemRows(frame, settings.inputSize, int8Features)));
  const auto = await resolveDetectorPrecision({ ...settings, precision: 'auto' });
  rows.push(autoChoiceRow('detector', `ssd ${settings.inputSize}, precision auto (1 thread)`, auto.settings.precision, auto.report.reason, { float: timed.float.median, int8: timed.int8.median }, int8Features));
  return rows;
}

/**
 * The int8 SSD's 3-channel stem read as 4 channels (what the detector does on x64) against the file as stored, bare
 * model runs interleaved in rounds so both see the same machine: the padded stem should take ONNX Runtime's fast int8 kernel.
 */
async function paddedStemRows(frame: Frame, size: number, int8Features: string): Promise<BenchRow[]> {
  const opts = { inputWidth: size, inputHeight: size, scoreThreshold: 0.3, iouThreshold: 0.4, minFaceSize: 0, maxFaces: 50, modelFile: ssdModelFile('int8'), intraOpNumThreads: 1 };
  const variants = { padded: new SsdFaceDetector({ ...opts, padInt8Stem: true }), stored: new SsdFaceDetector({ ...opts, padInt8Stem: false }) };
  const times: Record<keyof typeof variants, number[]> = { padded: [], stored: [] };
  try {
    for (const d of Object.values(variants)) {
      await d.start();
      d.preprocess(frame);
    }
    for (let round = 0; round < 6; round++)
      for (const [name, d] of Object.entries(variants) as Array<[keyof typeof variants, SsdFaceDetector]>) times[name].push((await time(() => d.infer())).median);
  } finally {
    for (const d of Object.values(variants)) await d.close();
  }
  const median = (v: number[]) => quantile(v, 0.5);
  const channels = `${variants.padded.inputChannels} channels padded`;
  return [
    { section: 'detector', name: `ssd ${size} int8 bare model run, stem read as 4 channels (x64 default), 1 thread`, median: median(times.padded), unit: 'ms', note: `median of 6 interleaved rounds; ${channels}` },
    { section: 'detector', name: `ssd ${size} int8 bare model run, stem as stored (3 channels), 1 thread`, median: median(times.stored), unit: 'ms', note: 'median of 6 interleaved rounds' },
    { section: 'detector', name: `ssd ${size} int8 padded / stored stem, bare model run`, value: median(times.padded) / median(times.stored), unit: '×', note: `int8: ${int8Features}` },
  ];
}

export async function run(): Promise<BenchRow[]> {
  const frame = await frame640();
  const rows: BenchRow[] = await ssdRows(frame);
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
