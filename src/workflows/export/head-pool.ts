import * as tf from '@tensorflow/tfjs';

export const HEAD_POOLS = ['global', 'bands'] as const;
/**
 * How the head pools the base's last feature map: one mean over it (the original project's), or three overlapping
 * horizontal bands (eyes, nose, mouth and chin) kept apart, since a mask worn below the nose differs from one worn
 * right mostly in where it sits.
 */
export type HeadPool = (typeof HEAD_POOLS)[number];

/** Rows of each band and the step between bands, for a feature map of `h` rows: three bands that cover all rows. */
export function poolBands(h: number): { rows: number; step: number; count: number } {
  if (h < 3) throw new Error(`head pool bands: the feature map has ${h} rows, fewer than 3`);
  const step = Math.max(1, Math.floor((h - 1) / 3));
  return { rows: h - 2 * step, step, count: 3 };
}

/** The head's pooling layer + flatten for an H×W feature map: [batch, C] (global) or [batch, 3·C] band-major (bands). */
export function applyHeadPool(features: tf.SymbolicTensor, pool: HeadPool, name: string): tf.SymbolicTensor {
  const [h, w] = [features.shape[1], features.shape[2]];
  if (typeof h !== 'number' || typeof w !== 'number' || features.shape.length !== 4) throw new Error(`head pool: ${JSON.stringify(features.shape)} is not a fixed-size feature map`);
  const bands = pool === 'bands' ? poolBands(h) : null;
  const layer = bands
    ? tf.layers.averagePooling2d({ poolSize: [bands.rows, w], strides: [bands.step, w], name: `${name}_pool` })
    : tf.layers.averagePooling2d({ poolSize: [h, w], name: `${name}_pool` });
  return tf.layers.flatten({ name: `${name}_flatten` }).apply(layer.apply(features)) as tf.SymbolicTensor;
}
