import type * as TF from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { sha256File, writeFileAtomic } from '../../core/files.js';
import { createLogger } from '../../core/log.js';
import { LABELS } from '../../core/types.js';
import { loadBaseModel, type BaseInfo } from './base.js';
import { runEpochs, type FeatureSet } from './epoch-loop.js';
import { loadTf } from './head.js';
import { argmax, confusionOf, metricsFromConfusion } from '../eval/metrics.js';
import { layersModelToOnnx } from '../../onnx/layers-export.js';
import { poolBands, type HeadPool } from '../export/head-pool.js';

/**
 * Fine-tuning the top of the base: the last N inverted-residual blocks + Conv_1 (BatchNormalization folded into the
 * convolutions, i.e. frozen statistics) are trained together with the head, on cached activations at the input of
 * those blocks (ONNX Runtime on a truncated base). The trained layers are written back into the full base with an
 * identity BatchNormalization (mean 0, variance 1, gamma √(1+ε), beta = folded bias).
 */
const log = createLogger('train');

/** Only stride-1 blocks at the last resolution (16, 15, 14 for MobileNetV2): block 13 has a stride-2 padding. */
export const MAX_FINE_TUNE_BLOCKS = 3;
const LAST_BLOCK = 16;

export function tailBlockIds(n: number): number[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_FINE_TUNE_BLOCKS) throw new Error(`fine-tune blocks: must be 0..${MAX_FINE_TUNE_BLOCKS}, got ${n}`);
  return Array.from({ length: n }, (_, i) => LAST_BLOCK - n + 1 + i);
}

/** The layer whose output feeds the first fine-tuned block (e.g. block_15_add for one block). */
export function cutLayerName(base: TF.LayersModel, n: number): string {
  const first = base.getLayer(`block_${tailBlockIds(n)[0]}_expand`);
  const input = first.input as TF.SymbolicTensor;
  return input.sourceLayer.name;
}

export interface CutBase {
  layer: string;
  onnx: string;
  onnxSha256: string;
  /** [h, w, c] of the cached activations. */
  shape: [number, number, number];
}

/** The base up to the cut, exported to ONNX (output NHWC), cached under cacheDir/bases. */
export async function resolveCutBase(info: BaseInfo, n: number, cacheDir: string): Promise<CutBase> {
  const tf = await import('@tensorflow/tfjs');
  const base = await loadBaseModel(info);
  const layer = cutLayerName(base, n);
  const out = base.getLayer(layer).output as TF.SymbolicTensor;
  const shape = out.shape.slice(1) as [number, number, number];
  const onnx = path.join(cacheDir, 'bases', `${info.weightsSha256.slice(0, 16)}-${info.inputSize}-cut-${layer}.onnx`);
  if (!fs.existsSync(onnx)) {
    log.info(`base ${info.dir}: writing the truncated base ${onnx} (output ${layer}, one-off)`);
    const cut = tf.model({ inputs: base.inputs, outputs: out, name: `${base.name}_cut_${layer}` });
    writeFileAtomic(onnx, layersModelToOnnx(cut, { name: 'base_cut', outputName: 'features' }));
  }
  base.dispose();
  return { layer, onnx, onnxSha256: sha256File(onnx), shape };
}

interface Folded {
  kernel: TF.Tensor;
  bias: TF.Tensor;
}

/** conv (no bias) + BN (inference) → conv with bias. Depthwise kernels scale on axis 2, others on the last axis. */
function fold(tf: typeof TF, base: TF.LayersModel, conv: string, bn: string): Folded {
  return tf.tidy(() => {
    const [kernel] = base.getLayer(conv).getWeights();
    const [gamma, beta, mean, variance] = base.getLayer(bn).getWeights();
    const eps = (base.getLayer(bn).getConfig().epsilon as number) ?? 1e-3;
    const scale = gamma.div(variance.add(eps).sqrt());
    const depthwise = base.getLayer(conv).getClassName() === 'DepthwiseConv2D';
    const k = depthwise ? kernel.mul(scale.reshape([1, 1, -1, 1])) : kernel.mul(scale);
    return { kernel: k, bias: beta.sub(mean.mul(scale)) };
  });
}

/** [conv layer, its BN] of the fine-tuned part, in order. */
function tunedConvs(n: number): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const id of tailBlockIds(n)) {
    const p = `block_${id}_`;
    pairs.push([`${p}expand`, `${p}expand_BN`], [`${p}depthwise`, `${p}depthwise_BN`], [`${p}project`, `${p}project_BN`]);
  }
  pairs.push(['Conv_1', 'Conv_1_bn']);
  return pairs;
}

/** One fine-tuned convolution, BN folded in: pointwise kernels as [in, out] matrices, depthwise ones as [3, 3, channels]. */
interface TunedConv {
  name: string;
  bn: string;
  depthwise: boolean;
  kernelShape: number[];
  kernel: TF.Variable;
  bias: TF.Variable;
}

/**
 * The trainable top: cut activations → last N blocks + Conv_1 → ReLU6 → the head's pooling → the head. Written with
 * matMul / shifted slices instead of conv layers because the WebAssembly backend has no convolution gradients.
 */
export interface Tail {
  blocks: number;
  convs: TunedConv[];
  /** Per fine-tuned block: whether it has the residual add. */
  residual: boolean[];
  head: TF.LayersModel;
  pool: HeadPool;
  shape: [number, number, number];
}

export async function buildTail(base: TF.LayersModel, n: number, head: TF.LayersModel, pool: HeadPool): Promise<Tail> {
  const tf = await loadTf();
  const cut = base.getLayer(cutLayerName(base, n)).output as TF.SymbolicTensor;
  const convs = tunedConvs(n).map(([name, bn]) => {
    const f = fold(tf, base, name, bn);
    const depthwise = base.getLayer(name).getClassName() === 'DepthwiseConv2D';
    const [kh, kw, cin, cout] = f.kernel.shape;
    if (!depthwise && (kh !== 1 || kw !== 1)) throw new Error(`fine-tune: ${name} is not a 1×1 convolution`);
    const kernel = tf.variable(depthwise ? f.kernel.reshape([kh, kw, cin * cout]) : f.kernel.reshape([cin, cout]), true);
    const bias = tf.variable(f.bias, true);
    const kernelShape = f.kernel.shape;
    f.kernel.dispose();
    return { name, bn, depthwise, kernelShape, kernel, bias };
  });
  const residual = tailBlockIds(n).map((id) => base.layers.some((l) => l.name === `block_${id}_add`));
  return { blocks: n, convs, residual, head, pool, shape: cut.shape.slice(1) as [number, number, number] };
}

let matMulOp: ((x: TF.Tensor, w: TF.Tensor) => TF.Tensor) | null = null;

/**
 * x·w whose gradients transpose explicitly: the WebAssembly backend's matMul with transposeA/transposeB (what the
 * built-in gradient uses) is about 15× slower than a transpose followed by a plain matMul.
 */
export function fastMatMul(tf: typeof TF): (x: TF.Tensor, w: TF.Tensor) => TF.Tensor {
  matMulOp ??= tf.customGrad((x, w, save) => {
    (save as TF.GradSaveFunc)([x as TF.Tensor, w as TF.Tensor]);
    return {
      value: tf.matMul(x as TF.Tensor2D, w as TF.Tensor2D),
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => [tf.matMul(dy as TF.Tensor2D, tf.transpose(saved[1]!)), tf.matMul(tf.transpose(saved[0]!), dy as TF.Tensor2D)],
    };
  }) as (x: TF.Tensor, w: TF.Tensor) => TF.Tensor;
  return matMulOp;
}

/** Class probabilities [batch, classes] for activations [batch, h, w, c]. */
function forwardTail(tf: typeof TF, tail: Tail, x: TF.Tensor4D, training: boolean): TF.Tensor {
  const [b, h, w] = x.shape;
  const matMul = fastMatMul(tf);
  const pointwise = (t: TF.Tensor, c: TunedConv) => tf.add(matMul(t.reshape([-1, t.shape[t.rank - 1]!]), c.kernel), c.bias).reshape([b, h, w, -1]);
  const depthwise = (t: TF.Tensor, c: TunedConv) => {
    const [kh, kw] = c.kernelShape;
    const ch = t.shape[3]!;
    const padded = tf.pad(t, [[0, 0], [(kh - 1) >> 1, kh >> 1], [(kw - 1) >> 1, kw >> 1], [0, 0]]);
    let sum: TF.Tensor | null = null;
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const tap = tf.mul(tf.slice(padded, [0, i, j, 0], [b, h, w, ch]), tf.slice(c.kernel, [i, j, 0], [1, 1, ch]).reshape([ch]));
        sum = sum ? tf.add(sum, tap) : tap;
      }
    return tf.add(sum!, c.bias);
  };
  let t: TF.Tensor = x;
  let k = 0;
  for (const residual of tail.residual) {
    const shortcut = t;
    t = tf.relu6(pointwise(t, tail.convs[k++]));
    t = tf.relu6(depthwise(t, tail.convs[k++]));
    t = pointwise(t, tail.convs[k++]);
    if (residual) t = tf.add(shortcut, t);
  }
  t = tf.relu6(pointwise(t, tail.convs[k++]));
  let pooled: TF.Tensor;
  if (tail.pool === 'global') pooled = tf.mean(t, [1, 2]);
  else {
    // The classifier's AveragePooling2D over three row bands, flattened band-major as its Flatten does.
    const bands = poolBands(h!);
    pooled = tf.concat(Array.from({ length: bands.count }, (_, i) => tf.mean(tf.slice(t, [0, i * bands.step, 0, 0], [b, bands.rows, w, -1]), [1, 2])), 1);
  }
  return tail.head.apply(pooled, { training }) as TF.Tensor;
}

/** Writes the fine-tuned convolutions into a full base (BN made the identity plus the folded bias). */
export function copyTailIntoBase(tf: typeof TF, tail: Tail, base: TF.LayersModel): void {
  for (const c of tail.convs) {
    const kernel = c.kernel.reshape(c.kernelShape);
    base.getLayer(c.name).setWeights([kernel]);
    kernel.dispose();
    const eps = (base.getLayer(c.bn).getConfig().epsilon as number) ?? 1e-3;
    const ch = c.bias.shape[0];
    const w = [tf.fill([ch], Math.sqrt(1 + eps)), c.bias, tf.zeros([ch]), tf.ones([ch])];
    base.getLayer(c.bn).setWeights(w);
    tf.dispose([w[0], w[2], w[3]]);
  }
}

export function disposeTail(tail: Tail): void {
  for (const c of tail.convs) {
    c.kernel.dispose();
    c.bias.dispose();
  }
}

export interface FineTuneOptions {
  seed: number;
  epochs: number;
  patience: number;
  batchSize: number;
  /** Learning rate of the base layers; the head gets 3× it. */
  learningRate: number;
  classWeights: number[];
  progress?: boolean;
}

export interface FineTuneResult {
  startMacroF1: number;
  bestMacroF1: number;
  bestEpoch: number;
  epochsRun: number;
  history: Array<{ epoch: number; loss: number; valMacroF1: number }>;
  seconds: number;
}

function stack4(tf: typeof TF, rows: Float32Array[], idx: number[], shape: [number, number, number]): TF.Tensor4D {
  const dim = shape[0] * shape[1] * shape[2];
  const data = new Float32Array(idx.length * dim);
  idx.forEach((r, i) => data.set(rows[r], i * dim));
  return tf.tensor4d(data, [idx.length, ...shape]);
}

/** Class probabilities of the tail model for cached activations. */
export function predictTail(tf: typeof TF, tail: Tail, rows: Float32Array[], batch = 64): Float32Array[] {
  const shape = tail.shape;
  const out: Float32Array[] = [];
  for (let b = 0; b < rows.length; b += batch) {
    const idx = Array.from({ length: Math.min(batch, rows.length - b) }, (_, i) => b + i);
    const probs = tf.tidy(() => forwardTail(tf, tail, stack4(tf, rows, idx, shape), false).dataSync() as Float32Array);
    const k = probs.length / idx.length;
    for (let i = 0; i < idx.length; i++) out.push(probs.slice(i * k, (i + 1) * k));
  }
  return out;
}

/** Trains the tail in place; keeps the weights of the best validation macro-F1 (epoch 0: as initialised, i.e. frozen base). */
export async function fineTuneTail(tail: Tail, train: FeatureSet, val: FeatureSet, opts: FineTuneOptions): Promise<FineTuneResult> {
  const tf = await loadTf();
  const k = LABELS.length;
  const vars = [
    ...tail.convs.flatMap((c) => [c.kernel, c.bias]).map((v) => ({ v, head: false })),
    ...tail.head.trainableWeights.map((w) => ({ v: w.read() as TF.Variable, head: true })),
  ];
  const baseOpt = tf.train.adam(opts.learningRate);
  const headOpt = tf.train.adam(opts.learningRate * 3);
  log.info(`fine-tune: ${vars.filter((v) => !v.head).length} base tensors trained`);
  try {
    const result = await runEpochs<{ convs: TF.Tensor[]; head: TF.Tensor[] }>({
      name: 'fine-tune',
      train,
      seed: opts.seed + 1,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      patience: opts.patience,
      progress: opts.progress,
      scoreStart: true,
      preferLaterOnTies: true,
      step: async (idx) => {
        const xb = stack4(tf, train.x, idx, tail.shape);
        const t = new Float32Array(idx.length * k);
        idx.forEach((r, i) => (t[i * k + train.y[r]!] = opts.classWeights[train.y[r]!]!));
        const yb = tf.tensor2d(t, [idx.length, k]);
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.metrics.categoricalCrossentropy(yb, forwardTail(tf, tail, xb, true))) as TF.Scalar, vars.map((v) => v.v));
        baseOpt.applyGradients(vars.filter((v) => !v.head).map((v) => ({ name: v.v.name, tensor: grads[v.v.name]! })));
        headOpt.applyGradients(vars.filter((v) => v.head).map((v) => ({ name: v.v.name, tensor: grads[v.v.name]! })));
        const loss = value.dataSync()[0]!;
        tf.dispose([xb, yb, value, ...Object.values(grads)]);
        return loss;
      },
      validate: () => ({ macroF1: metricsFromConfusion(confusionOf(val.y, predictTail(tf, tail, val.x).map((p) => argmax(Array.from(p))))).macroF1 }),
      snapshot: () => ({ convs: tail.convs.flatMap((c) => [c.kernel.clone(), c.bias.clone()]), head: tail.head.getWeights().map((w) => w.clone()) }),
      restore: (w) => {
        tail.convs.forEach((c, i) => {
          c.kernel.assign(w.convs[2 * i]!);
          c.bias.assign(w.convs[2 * i + 1]!);
        });
        tail.head.setWeights(w.head);
      },
      release: (w) => tf.dispose([...w.convs, ...w.head]),
    });
    return {
      startMacroF1: result.startMacroF1 ?? 0,
      bestMacroF1: result.bestMacroF1,
      bestEpoch: result.bestEpoch,
      epochsRun: result.history.length,
      history: result.history.map((h) => ({ epoch: h.epoch, loss: h.loss, valMacroF1: h.valMacroF1 })),
      seconds: result.seconds,
    };
  } finally {
    baseOpt.dispose();
    headOpt.dispose();
  }
}
