/**
 * Writes models/<base>/base.onnx (MobileNetV2 base + global average pool → 'features') from the TF.js layers base in
 * the same folder, and checks it against TF.js on random inputs.
 * Usage: node --import tsx scripts/prepare-base.ts [baseDir] [outFile]
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { featureExtractor, writeBaseFeaturesOnnx } from '../src/workflows/export/base-features.js';
import { checkOnnxAgainstTfjs } from '../src/onnx/export-check.js';

const baseDir = process.argv[2] ?? 'models/mobilenet_v2_0.35_224';
const outFile = process.argv[3] ?? path.join(baseDir, 'base.onnx');
await tf.setBackend('cpu');
const { base, bytes } = await writeBaseFeaturesOnnx(baseDir, outFile);
const check = await checkOnnxAgainstTfjs(featureExtractor(base), bytes, 2);
console.log(`wrote ${outFile} (${(bytes.byteLength / 1024).toFixed(0)} KiB), output ${JSON.stringify(check.outputShape)}, max |ONNX − TF.js| = ${check.maxAbsDiff.toExponential(2)} on ${check.inputs} random inputs`);
if (!(check.maxAbsDiff <= 1e-4)) {
  console.error('prepare-base: ONNX and TF.js disagree by more than 1e-4');
  process.exit(1);
}
