import { labelIndex } from '../../core/labels.js';
import { sampleCrop } from '../train/augment.js';
import { decodeRgb, normaliseInto, type RgbImage } from '../train/crop.js';
import { argmax, evaluatePredictions, type Metrics } from './metrics.js';
import type { FaceSample } from '../data/photos.js';
import { createProgressBar } from '../progress.js';

/** Runs a real ONNX classifier (ONNX Runtime) on plain (un-augmented) crops and scores it. */
export interface ClassifierRun {
  probs: Float32Array[];
  predicted: number[];
}

export async function classifySamples(
  onnx: string | Uint8Array,
  samples: FaceSample[],
  opts: { margin: number; inputSize: number; batchSize?: number; progress?: boolean; title?: string },
): Promise<ClassifierRun> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(onnx as string, { intraOpNumThreads: 2 });
  const size = opts.inputSize;
  const batchSize = opts.batchSize ?? 16;
  const order = samples.map((_, i) => i).sort((a, b) => samples[a].file.localeCompare(samples[b].file));
  const probs = new Array<Float32Array>(samples.length);
  const batch = new Float32Array(batchSize * size * size * 3);
  const bar = opts.progress === false ? null : createProgressBar(opts.title ?? 'classify', '{bar} {value}/{total} faces | ETA {eta_formatted}');
  bar?.start(samples.length, 0);
  let decoded = new Map<string, Promise<RgbImage>>();
  try {
    for (let b = 0; b < order.length; b += batchSize) {
      const chunk = order.slice(b, b + batchSize);
      const current = new Map<string, Promise<RgbImage>>();
      for (const i of chunk) current.set(samples[i].file, current.get(samples[i].file) ?? decoded.get(samples[i].file) ?? decodeRgb(samples[i].file));
      decoded = current;
      await Promise.all(
        chunk.map(async (s, j) => {
          const rgb = await sampleCrop(samples[s], await current.get(samples[s].file)!, opts.margin, size, 0);
          normaliseInto(rgb, batch, j * size * size * 3);
        }),
      );
      const n = chunk.length;
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', batch.subarray(0, n * size * size * 3), [n, size, size, 3]) };
      const out = (await session.run(feeds))[session.outputNames[0]];
      const data = out.data as Float32Array;
      const k = data.length / n;
      chunk.forEach((s, j) => (probs[s] = data.slice(j * k, (j + 1) * k)));
      bar?.update(b + n);
    }
  } finally {
    bar?.stop();
    await session.release();
  }
  return { probs, predicted: probs.map(argmax) };
}

export interface EvaluationResult {
  count: number;
  minFace: number;
  all: Metrics;
  large: Metrics;
}

export function scoreRun(samples: FaceSample[], run: ClassifierRun, minFace: number): EvaluationResult {
  const truth = samples.map((s) => labelIndex(s.label));
  const r = evaluatePredictions(truth, run.predicted, samples.map((s) => s.faceSize), minFace);
  return { count: samples.length, minFace, all: r.all, large: r.large };
}

/** How an int8 model compares with the float one on the same faces. */
export function compareRuns(samples: FaceSample[], float: ClassifierRun, int8: ClassifierRun, minFace: number) {
  const agree = float.predicted.filter((p, i) => p === int8.predicted[i]).length;
  const large = samples.map((_, i) => i).filter((i) => samples[i]!.faceSize >= minFace);
  const agreeLarge = large.filter((i) => float.predicted[i] === int8.predicted[i]).length;
  const f = scoreRun(samples, float, minFace);
  const q = scoreRun(samples, int8, minFace);
  let maxProbDiff = 0;
  let sumProbDiff = 0;
  let values = 0;
  float.probs.forEach((row, i) =>
    row.forEach((v, j) => {
      const d = Math.abs(v - int8.probs[i]![j]!);
      maxProbDiff = Math.max(maxProbDiff, d);
      sumProbDiff += d;
      values++;
    }),
  );
  return {
    labelAgreementPct: samples.length ? (100 * agree) / samples.length : 100,
    /** On faces ≥ minFace only: the ones the daemon classifies. */
    labelAgreementPctLarge: large.length ? (100 * agreeLarge) / large.length : 100,
    macroF1Delta: q.all.macroF1 - f.all.macroF1,
    macroF1DeltaLarge: q.large.macroF1 - f.large.macroF1,
    maxProbDiff,
    meanProbDiff: values ? sumProbDiff / values : 0,
    int8: q,
  };
}
