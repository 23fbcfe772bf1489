/**
 * The feature extractor used for training: a MobileNetV2 base (TF.js layers, any width) + global average pooling,
 * exported to ONNX with input 'input' NHWC [batch,S,S,3] (x/127.5−1) and output 'features' [batch, C].
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../core/files.js';
import { layersModelToOnnx } from '../../onnx/layers-export.js';
import { applyHeadPool, type HeadPool } from './head-pool.js';
import { loadLayersModelFromDir } from './tfjs-model-dir.js';

export const FEATURES_OUTPUT = 'features';

/** base → the head's pooling (GlobalAveragePooling2D for 'global', so its file stays as it was) as a TF.js model sharing the base's layers. */
export function featureExtractor(base: tf.LayersModel, pool: HeadPool = 'global'): tf.LayersModel {
  const pooled = pool === 'global' ? (tf.layers.globalAveragePooling2d({ name: 'features_pool' }).apply(base.outputs[0]!) as tf.SymbolicTensor) : applyHeadPool(base.outputs[0]!, pool, 'features');
  return tf.model({ inputs: base.inputs, outputs: pooled, name: `${base.name}_features` });
}

export function featureExtractorToOnnx(base: tf.LayersModel, pool: HeadPool = 'global'): Uint8Array {
  return layersModelToOnnx(featureExtractor(base, pool), { name: 'base_features', outputName: FEATURES_OUTPUT });
}

/** Loads a TF.js layers base from `baseDir` and writes its feature-extractor ONNX to `outFile` (atomically). */
export async function writeBaseFeaturesOnnx(baseDir: string, outFile: string): Promise<{ base: tf.LayersModel; bytes: Uint8Array }> {
  const base = await loadLayersModelFromDir(baseDir);
  const bytes = featureExtractorToOnnx(base);
  writeFileAtomic(outFile, bytes);
  return { base, bytes };
}
