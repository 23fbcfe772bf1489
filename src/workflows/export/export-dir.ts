/** `maskwatch export`: a TF.js layers model folder → one checked ONNX file. */
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../core/files.js';
import { checkOnnxAgainstTfjs } from '../../onnx/export-check.js';
import { layersModelToOnnx } from '../../onnx/layers-export.js';
import { loadLayersModelFromDir } from './tfjs-model-dir.js';

export interface ExportDirOptions {
  outputName?: string;
  /** Random inputs to compare ONNX Runtime with TF.js on. */
  checks?: number;
  /** Largest tolerated |ONNX − TF.js|; above it nothing is written. */
  tolerance?: number;
}

export interface ExportDirResult {
  file: string;
  bytes: number;
  maxAbsDiff: number;
  checks: number;
  inputShape: Array<number | null>;
  outputShape: Array<number | null>;
}

export async function exportLayersDirToOnnx(dir: string, out: string, opts: ExportDirOptions = {}): Promise<ExportDirResult> {
  const checks = opts.checks ?? 2;
  const tolerance = opts.tolerance ?? 1e-4;
  tf.enableProdMode();
  await tf.setBackend('cpu');
  const model = await loadLayersModelFromDir(dir);
  const bytes = layersModelToOnnx(model, { outputName: opts.outputName ?? 'probs' });
  let maxAbsDiff = NaN;
  if (checks > 0) {
    ({ maxAbsDiff } = await checkOnnxAgainstTfjs(model, bytes, checks));
    if (!(maxAbsDiff <= tolerance))
      throw new Error(`export of ${dir}: ONNX Runtime and TF.js differ by ${maxAbsDiff.toExponential(2)} (> ${tolerance}); nothing written`);
  }
  writeFileAtomic(out, bytes);
  return { file: out, bytes: bytes.byteLength, maxAbsDiff, checks, inputShape: model.inputs[0]!.shape, outputShape: model.outputs[0]!.shape };
}
