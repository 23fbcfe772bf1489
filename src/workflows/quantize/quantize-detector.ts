/**
 * The int8 copy of the AIZOO SSD: calibrated on training-split photos (never validation or test), each resized as the
 * detector resizes frames; quantized with signed int8 weights (ORT's u8×s8 kernels: about 2× the float speed where the CPU
 * has int8 dot products, VNNI or Arm dotprod); then its input height and width made symbolic again (the quantization
 * parameters are per tensor or per channel, not per position, so they hold at any input size).
 */
import { decodeModel, encodeModel } from '../../onnx/builder.js';
import { quantizeOnnx, type QuantizeReport } from '../../onnx/quantize.js';
import { readImageFile } from '../../vision/image-decode.js';
import { resampleInto, TO_UNIT, wholeImage } from '../../vision/resample.js';
import { loadLabelledData, samplesIn } from '../data/labelled-data.js';
import { parseDataSpec } from '../data/datasets.js';
import type { SplitOptions } from '../data/split.js';
import { spreadSample } from './calibration-images.js';

export interface DetectorCalibration {
  /** Data roots (as `maskwatch train --data`); only photos with face boxes of the train split are used. */
  roots: string[];
  split: SplitOptions;
  count: number;
  inputSize: number;
  cacheDir: string | null;
}

/** Whole training photos resized to the detector input, NCHW /255, spread evenly over the photos. */
export async function detectorCalibrationInputs(c: DetectorCalibration): Promise<{ inputs: Float32Array[]; photos: string[] }> {
  const data = await loadLabelledData(c.roots.map(parseDataSpec), c.split, c.cacheDir);
  const files = [...new Set(samplesIn(data, 'train').filter((s) => s.box && !s.synthetic).map((s) => s.file))].sort();
  if (!files.length) throw new Error(`detector calibration: no training photos with face boxes in ${c.roots.join(', ')}`);
  const photos = spreadSample(files, c.count);
  const inputs: Float32Array[] = [];
  for (const file of photos) {
    const img = await readImageFile(file);
    const out = new Float32Array(3 * c.inputSize * c.inputSize);
    resampleInto(img, wholeImage(img), c.inputSize, c.inputSize, { norm: TO_UNIT, antialias: false, layout: 'nchw' }, out);
    inputs.push(out);
  }
  return { inputs, photos };
}

/** Quantizes an SSD converted at a fixed input size; returns the int8 model with free height and width. */
export async function quantizeDetector(fixedSizeModel: Uint8Array, calibration: Float32Array[]): Promise<{ model: Uint8Array; report: QuantizeReport }> {
  const { model, report } = await quantizeOnnx(fixedSizeModel, calibration, { method: 'percentile', weightType: 'int8' });
  const m = decodeModel(model);
  const free = (dims: Array<{ dimValue?: unknown; dimParam?: string | null }>, names: Record<number, string>) => {
    for (const [i, name] of Object.entries(names)) dims[Number(i)] = { dimParam: name };
  };
  free(m.graph!.input![0]!.type!.tensorType!.shape!.dim as never, { 2: 'height', 3: 'width' });
  for (const o of m.graph!.output!) free(o.type!.tensorType!.shape!.dim as never, { 1: `${o.name}_anchors` });
  return { model: encodeModel(m), report };
}
