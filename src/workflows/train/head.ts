import type * as TF from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createLogger } from '../../core/log.js';
import { LABELS } from '../../core/types.js';
import { argmax, confusionOf, metricsFromConfusion } from '../eval/metrics.js';
import { createProgressBar } from '../progress.js';
import { createRng, epochSampler } from '../../core/rng.js';
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

export interface FeatureSet {
  x: Float32Array[];
  y: number[];
  /**
   * Rows that are copies (augmentations) of one crop, and how many of them an epoch draws: an epoch then sees
   * each crop `draws` times in a fresh random variant, not every copy every epoch. Without it, every row.
   */
  groups?: Array<{ rows: number[]; draws: number }>;
}

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

export interface EpochRecord {
  epoch: number;
  loss: number;
  valLoss: number;
  valMacroF1: number;
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
  const started = Date.now();
  const k = LABELS.length;
  const dim = train.x[0].length;
  const head = buildHead(dim, { hidden: opts.hidden, dropout: opts.dropout, classes: k, seed: opts.seed });
  // Weighted cross-entropy: the one-hot target scaled by its class weight gives −w_c · log p_c.
  const weightedCe = (yTrue: TF.Tensor, yPred: TF.Tensor) => tf.mean(tf.metrics.categoricalCrossentropy(yTrue, yPred));
  head.compile({ optimizer: tf.train.adam(opts.learningRate), loss: weightedCe });

  const weighted = (y: number[], idx: number[]) => {
    const t = new Float32Array(idx.length * k);
    idx.forEach((r, i) => (t[i * k + y[r]] = opts.classWeights[y[r]]));
    return tf.tensor2d(t, [idx.length, k]);
  };
  const rng = createRng(opts.seed);
  const groups = train.groups ?? train.x.map((_, i) => ({ rows: [i], draws: 1 }));
  const epochRows = epochSampler(groups, rng);
  const valIdx = val.x.map((_, i) => i);
  const xVal = stack(tf, val.x, valIdx);
  const history: EpochRecord[] = [];
  let best = { f1: -1, epoch: 0, weights: [] as TF.Tensor[] };
  const bar = opts.progress === false ? null : createProgressBar('head', '{bar} epoch {value}/{total} | loss {loss} | val loss {vloss} | val macro-F1 {vf1} | ETA {eta_formatted}');
  bar?.start(opts.epochs, 0, { loss: '-', vloss: '-', vf1: '-' });
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const order = epochRows();
      let lossSum = 0;
      let batches = 0;
      for (let b = 0; b < order.length; b += opts.batchSize) {
        const idx = order.slice(b, b + opts.batchSize);
        const xb = stack(tf, train.x, idx);
        const yb = weighted(train.y, idx);
        const loss = (await head.trainOnBatch(xb, yb)) as number;
        xb.dispose();
        yb.dispose();
        lossSum += loss;
        batches++;
      }
      const { valLoss, predicted } = tf.tidy(() => {
        const p = head.predict(xVal) as TF.Tensor2D;
        const probs = p.arraySync();
        const yv = tf.oneHot(tf.tensor1d(val.y, 'int32'), k).toFloat();
        return { valLoss: tf.mean(tf.metrics.categoricalCrossentropy(yv, p)).dataSync()[0], predicted: probs.map(argmax) };
      });
      const valMacroF1 = metricsFromConfusion(confusionOf(val.y, predicted)).macroF1;
      const record = { epoch, loss: lossSum / Math.max(1, batches), valLoss, valMacroF1 };
      history.push(record);
      if (valMacroF1 > best.f1 + 1e-9) {
        best.weights.forEach((w) => w.dispose());
        best = { f1: valMacroF1, epoch, weights: head.getWeights().map((w) => w.clone()) };
      }
      bar?.update(epoch, { loss: record.loss.toFixed(4), vloss: valLoss.toFixed(4), vf1: valMacroF1.toFixed(3) });
      if (bar === null || !process.stderr.isTTY)
        log.info(`epoch ${epoch}: loss ${record.loss.toFixed(4)}, val loss ${valLoss.toFixed(4)}, val macro-F1 ${valMacroF1.toFixed(3)}`);
      if (epoch - best.epoch >= opts.patience) break;
    }
  } finally {
    bar?.stop();
    xVal.dispose();
  }
  head.setWeights(best.weights);
  best.weights.forEach((w) => w.dispose());
  const seconds = (Date.now() - started) / 1000;
  log.info(`head: best validation macro-F1 ${best.f1.toFixed(3)} at epoch ${best.epoch} of ${history.length} (${seconds.toFixed(1)} s)`);
  return { head, bestEpoch: best.epoch, epochsRun: history.length, history, seconds };
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
