import { labelIndex } from '../../core/labels.js';
import { closeSession, openSession, runFloat } from '../../onnx/session.js';
import { faceInputBatches } from '../data/face-inputs.js';
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
  const session = await openSession(onnx, { intraOpNumThreads: 2 });
  const size = opts.inputSize;
  const probs = new Array<Float32Array>(samples.length);
  const bar = opts.progress === false ? null : createProgressBar(opts.title ?? 'classify', '{bar} {value}/{total} faces | ETA {eta_formatted}');
  bar?.start(samples.length, 0);
  let done = 0;
  try {
    const jobs = samples.map((sample) => ({ sample, aug: 0 }));
    for await (const batch of faceInputBatches(jobs, { inputSize: size, margin: opts.margin, batchSize: opts.batchSize ?? 16 })) {
      const n = batch.indices.length;
      const { data } = await runFloat(session, batch.inputs, [n, size, size, 3]);
      const k = data.length / n;
      batch.indices.forEach((s, j) => (probs[s] = data.slice(j * k, (j + 1) * k)));
      bar?.update((done += n));
    }
  } finally {
    bar?.stop();
    await closeSession(session);
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
