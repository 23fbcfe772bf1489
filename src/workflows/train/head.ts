import type * as TF from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createLogger } from '../../core/log.js';
import { LABELS } from '../../core/types.js';
import { argmax, confusionOf, metricsFromConfusion } from '../eval/metrics.js';
import { runEpochs, type EpochRecord, type FeatureSet } from './epoch-loop.js';
import { buildHead } from './mobilenet.js';

/**
 * Fits the classifier head (Dense 128 relu → Dropout 0.5 → Dense 3 softmax) on cached base features:
 * Adam, class-weighted cross-entropy, seeded shuffling and initialisation, early stopping on validation
 * macro-F1 with the best epoch's weights kept.
 */
const log = createLogger('train');

/**
 * @tensorflow/tfjs with the fastest backend at hand: tfjs-node when a user has installed it (optional, not a
 * dependency), else the WebAssembly backend (about 3× the pure-JS one on the head), else pure JS.
 */
export async function loadTf(): Promise<typeof TF> {
  const tf = await import('@tensorflow/tfjs');
  try {
    const nodeBackend = '@tensorflow/tfjs-node';
    await import(nodeBackend);
    await tf.setBackend('tensorflow');
    return tf;
  } catch {
    /* not installed */
  }
  if (tf.getBackend() === 'wasm') return tf;
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dist + path.sep);
    if (!(await tf.setBackend('wasm'))) throw new Error('not available');
    await tf.ready();
  } catch (err) {
    log.info(`tfjs: WebAssembly backend unavailable (${(err as Error).message.split('\n')[0]}); using pure JS`);
    await tf.setBackend('cpu');
  }
  return tf;
}

export type { FeatureSet };

export interface HeadTrainOptions {
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Epochs without a better validation macro-F1 before stopping. */
  patience: number;
  classWeights: number[];
  hidden: number;
  dropout: number;
  progress?: boolean;
}

export interface HeadTrainResult {
  head: TF.LayersModel;
  bestEpoch: number;
  epochsRun: number;
  history: EpochRecord[];
  seconds: number;
}

function stack(tf: typeof TF, rows: Float32Array[], idx: number[]): TF.Tensor2D {
  const dim = rows[0].length;
  const data = new Float32Array(idx.length * dim);
  idx.forEach((r, i) => data.set(rows[r], i * dim));
  return tf.tensor2d(data, [idx.length, dim]);
}

/** Class probabilities of a model for rows of features. */
export function predictRows(tf: typeof TF, model: TF.LayersModel, rows: Float32Array[], batch = 512): Float32Array[] {
  const out: Float32Array[] = [];
  for (let b = 0; b < rows.length; b += batch) {
    const idx = Array.from({ length: Math.min(batch, rows.length - b) }, (_, i) => b + i);
    const probs = tf.tidy(() => (model.predict(stack(tf, rows, idx)) as TF.Tensor).dataSync() as Float32Array);
    const k = probs.length / idx.length;
    for (let i = 0; i < idx.length; i++) out.push(probs.slice(i * k, (i + 1) * k));
  }
  return out;
}

export async function trainHead(train: FeatureSet, val: FeatureSet, opts: HeadTrainOptions): Promise<HeadTrainResult> {
  const tf = await loadTf();
  const k = LABELS.length;
  const head = buildHead(train.x[0]!.length, { hidden: opts.hidden, dropout: opts.dropout, classes: k, seed: opts.seed });
  // Weighted cross-entropy: the one-hot target scaled by its class weight gives −w_c · log p_c.
  head.compile({ optimizer: tf.train.adam(opts.learningRate), loss: (yTrue: TF.Tensor, yPred: TF.Tensor) => tf.mean(tf.metrics.categoricalCrossentropy(yTrue, yPred)) });
  const weightedTargets = (idx: number[]) => {
    const t = new Float32Array(idx.length * k);
    idx.forEach((r, i) => (t[i * k + train.y[r]!] = opts.classWeights[train.y[r]!]!));
    return tf.tensor2d(t, [idx.length, k]);
  };
  const xVal = stack(tf, val.x, val.x.map((_, i) => i));
  try {
    const result = await runEpochs<TF.Tensor[]>({
      name: 'head',
      train,
      seed: opts.seed,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      patience: opts.patience,
      progress: opts.progress,
      step: async (idx) => {
        const xb = stack(tf, train.x, idx);
        const yb = weightedTargets(idx);
        try {
          return (await head.trainOnBatch(xb, yb)) as number;
        } finally {
          tf.dispose([xb, yb]);
        }
      },
      validate: () =>
        tf.tidy(() => {
          const p = head.predict(xVal) as TF.Tensor2D;
          const yv = tf.oneHot(tf.tensor1d(val.y, 'int32'), k).toFloat();
          const predicted = p.arraySync().map(argmax);
          return { loss: tf.mean(tf.metrics.categoricalCrossentropy(yv, p)).dataSync()[0]!, macroF1: metricsFromConfusion(confusionOf(val.y, predicted)).macroF1 };
        }),
      snapshot: () => head.getWeights().map((w) => w.clone()),
      restore: (w) => head.setWeights(w),
      release: (w) => tf.dispose(w),
    });
    return { head, bestEpoch: result.bestEpoch, epochsRun: result.history.length, history: result.history, seconds: result.seconds };
  } finally {
    xVal.dispose();
  }
}

export interface BiasCalibration {
  label: string;
  /** Added to that class's logit (the last Dense bias); 0 when it did not help enough. */
  offset: number;
  valMacroF1Before: number;
  valMacroF1After: number;
}

/**
 * Tunes one additive logit offset for a class on VALIDATION probabilities (softmax(z + b·e_c) = p·e^b renormalised),
 * to maximise validation macro-F1. Kept only if it gains at least `minGain` (validation is small; noise otherwise).
 */
export function tuneClassBias(valProbs: Float32Array[], valY: number[], classIndex: number, minGain = 0.01): BiasCalibration {
  const f1At = (b: number) => {
    const scale = Math.exp(b);
    const predicted = valProbs.map((p) => argmax(Array.from(p, (v, i) => (i === classIndex ? v * scale : v))));
    return metricsFromConfusion(confusionOf(valY, predicted)).macroF1;
  };
  const before = f1At(0);
  let best = { offset: 0, f1: before };
  for (let b = -3; b <= 3 + 1e-9; b += 0.25) {
    const f1 = f1At(b);
    if (f1 > best.f1 + 1e-9 || (Math.abs(f1 - best.f1) <= 1e-9 && Math.abs(b) < Math.abs(best.offset))) best = { offset: b, f1 };
  }
  if (best.f1 - before < minGain) best = { offset: 0, f1: before };
  return { label: LABELS[classIndex], offset: best.offset, valMacroF1Before: before, valMacroF1After: best.f1 };
}

/** Adds an offset to one class's bias in the head's output layer. */
export function addClassBias(tf: typeof TF, head: TF.LayersModel, layerName: string, classIndex: number, offset: number): void {
  if (!offset) return;
  const layer = head.getLayer(layerName);
  const [kernel, bias] = layer.getWeights();
  const values = Float32Array.from(bias.dataSync());
  values[classIndex] += offset;
  const newBias = tf.tensor1d(values);
  layer.setWeights([kernel, newBias]);
  newBias.dispose();
}
