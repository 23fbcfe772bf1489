/**
 * MobileNetV2 (the Keras Applications layout, same layer names, so ImageNet weights of any width load into it) and the
 * mask classifier head of the original Keras project: AveragePooling2D(7×7) → Flatten → Dense(128, relu) → Dropout(0.5)
 * → Dense(3, softmax).
 */
import * as tf from '@tensorflow/tfjs';
import { applyHeadPool, type HeadPool } from '../export/head-pool.js';

export interface ClassifierHeadOptions {
  hidden: number;
  dropout: number;
  classes: number;
  seed?: number;
}

export interface ClassifierOptions extends ClassifierHeadOptions {
  inputSize: number;
  /** Default 'global'. */
  pool?: HeadPool;
}

/** Names of the trainable head layers; the head-only model and the full classifier share them. */
export const HEAD_LAYERS = { hidden: 'head_dense', dropout: 'head_dropout', probs: 'head_probs' } as const;

/** base → AveragePooling2D (the whole map, or three bands) → Flatten → Dense(hidden, relu) → Dropout → Dense(classes, softmax). */
export function buildClassifier(base: tf.LayersModel, opts: ClassifierOptions): tf.LayersModel {
  const baseIn = base.inputs[0]!.shape;
  if (baseIn[1] !== opts.inputSize || baseIn[2] !== opts.inputSize)
    throw new Error(`base ${base.name}: input is ${baseIn.slice(1, 3).join('×')}, expected ${opts.inputSize}×${opts.inputSize}`);
  const x = applyHeadPool(base.outputs[0]!, opts.pool ?? 'global', 'head');
  const out = headLayers(opts).reduce((t, layer) => layer.apply(t) as tf.SymbolicTensor, x);
  return tf.model({ inputs: base.inputs, outputs: out, name: 'mask_classifier' });
}

/** The head alone on pooled features [batch, features] (C or 3·C) — what training fits on cached base features. */
export function buildHead(features: number, opts: ClassifierHeadOptions): tf.LayersModel {
  const input = tf.input({ shape: [features], name: 'features' });
  const out = headLayers(opts).reduce((t, layer) => layer.apply(t) as tf.SymbolicTensor, input);
  return tf.model({ inputs: input, outputs: out, name: 'mask_head' });
}

/** Copies the Dense weights of a trained head (from buildHead or buildClassifier) into a classifier by layer name. */
export function copyHeadWeights(from: tf.LayersModel, to: tf.LayersModel): void {
  for (const name of [HEAD_LAYERS.hidden, HEAD_LAYERS.probs]) {
    const src = from.getLayer(name);
    const dst = to.getLayer(name);
    const weights = src.getWeights();
    const shapes = dst.getWeights().map((w) => w.shape.join('×'));
    if (weights.map((w) => w.shape.join('×')).join() !== shapes.join())
      throw new Error(`head layer ${name}: weight shapes ${weights.map((w) => w.shape.join('×')).join(', ')} do not fit ${shapes.join(', ')}`);
    dst.setWeights(weights);
  }
}

export function headLayers(opts: ClassifierHeadOptions): tf.layers.Layer[] {
  const seed = opts.seed ?? 1;
  return [
    tf.layers.dense({ units: opts.hidden, activation: 'relu', name: HEAD_LAYERS.hidden, kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
    tf.layers.dropout({ rate: opts.dropout, name: HEAD_LAYERS.dropout, seed }),
    tf.layers.dense({ units: opts.classes, activation: 'softmax', name: HEAD_LAYERS.probs, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
  ];
}

/** Keras `_make_divisible`: channel counts rounded to a multiple of 8, never down by more than 10 %. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** [expansion t, output channels c, repeats n, first stride s] of MobileNetV2's 17 inverted residual blocks. */
const BLOCKS: Array<[number, number, number, number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** An untrained MobileNetV2 without top (output out_relu), Keras layer names and layout, deterministic for a seed. */
export function buildMobileNetV2(alpha: number, inputSize: number, seed = 1): tf.LayersModel {
  if (!(alpha > 0) || !(inputSize >= 32)) throw new Error(`MobileNetV2: alpha must be > 0 and input size ≥ 32 (got ${alpha}, ${inputSize})`);
  let seq = seed;
  const init = () => tf.initializers.glorotUniform({ seed: seq++ });
  const bn = (name: string) => tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
  const relu6 = (name: string) => tf.layers.reLU({ maxValue: 6, name });
  const apply = (t: tf.SymbolicTensor, ...layers: tf.layers.Layer[]) => layers.reduce((x, l) => l.apply(x) as tf.SymbolicTensor, t);
  // Keras correct_pad for a 3×3 stride-2 conv: ((0,1),(0,1)) on even sizes, ((1,1),(1,1)) on odd ones.
  const correctPad = (t: tf.SymbolicTensor): number[][] => {
    const [h, w] = [t.shape[1] as number, t.shape[2] as number];
    return [[h % 2, 1], [w % 2, 1]];
  };

  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
  let x = apply(input, tf.layers.zeroPadding2d({ padding: correctPad(input) as [[number, number], [number, number]], name: 'Conv1_pad' }));
  x = apply(x,
    tf.layers.conv2d({ filters: makeDivisible(32 * alpha), kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'Conv1', kernelInitializer: init() }),
    bn('bn_Conv1'), relu6('Conv1_relu'));

  let blockId = 0;
  for (const [t, c, n, s] of BLOCKS) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const inChannels = x.shape[3] as number;
      const outChannels = makeDivisible(Math.trunc(c * alpha));
      const prefix = blockId ? `block_${blockId}_` : 'expanded_conv_';
      const shortcut = x;
      if (blockId) {
        x = apply(x,
          tf.layers.conv2d({ filters: t * inChannels, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}expand`, kernelInitializer: init() }),
          bn(`${prefix}expand_BN`), relu6(`${prefix}expand_relu`));
      }
      if (stride === 2) x = apply(x, tf.layers.zeroPadding2d({ padding: correctPad(x) as [[number, number], [number, number]], name: `${prefix}pad` }));
      x = apply(x,
        tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false, name: `${prefix}depthwise`, depthwiseInitializer: init() }),
        bn(`${prefix}depthwise_BN`), relu6(`${prefix}depthwise_relu`),
        tf.layers.conv2d({ filters: outChannels, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}project`, kernelInitializer: init() }),
        bn(`${prefix}project_BN`));
      if (inChannels === outChannels && stride === 1) x = tf.layers.add({ name: `${prefix}add` }).apply([shortcut, x]) as tf.SymbolicTensor;
      blockId++;
    }
  }
  const lastChannels = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  x = apply(x,
    tf.layers.conv2d({ filters: lastChannels, kernelSize: 1, useBias: false, name: 'Conv_1', kernelInitializer: init() }),
    bn('Conv_1_bn'), relu6('out_relu'));
  return tf.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha}_${inputSize}` });
}
