/** Shared TF.js helpers for tests: deterministic random weights that make BN folding and the head non-trivial. */
import * as tf from '@tensorflow/tfjs';

/** Deterministic uniform values in [lo, hi). */
export function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  });
}

/** Gives every BatchNormalization layer random gamma/beta/moving mean/variance so folding is really exercised. */
export function randomizeBatchNorm(model: tf.LayersModel, seed = 7): void {
  let k = seed;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const c = layer.getWeights()[0]!.shape[0]!;
    const ranges: Array<[number, number]> = [[0.5, 1.5], [-0.3, 0.3], [-0.3, 0.3], [0.3, 2]];
    layer.setWeights(ranges.map(([lo, hi]) => tf.tensor1d(uniform(c, lo, hi, k++))));
  }
}

/** Replaces every Dense layer's weights by small random values so a softmax output is not saturated. */
export function randomizeDense(model: tf.LayersModel, scale: number, seed = 11): void {
  let k = seed;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Dense') continue;
    layer.setWeights(layer.getWeights().map((w) => tf.tensor(uniform(w.size, -scale, scale, k++), w.shape)));
  }
}
