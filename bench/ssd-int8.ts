/**
 * `node --import tsx bench/ssd-int8.ts [--count 64] [--weight-type int8|uint8] [--float-layers N] [--out file]`: an int8 (QDQ) copy of the AIZOO SSD made by the
 * repo's quantizer (src/onnx/quantize.ts), calibrated on training-split photos (train/default.json's data roots,
 * DEFAULT_SPLIT), each resized to 260×260 as the detector does. Calibration needs a fixed input size, so the SSD is
 * converted at 260×260, quantized, and its input height/width made symbolic again (the quantization parameters are
 * per tensor or per channel, not per position, so they hold at any size). An experiment: the copy goes to .cache/,
 * measure it with `bench/ssd-measure.ts --model <it>`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel, encodeModel } from '../src/onnx/builder.js';
import { convertCaffeModel, readCaffeModel } from '../src/onnx/caffe-convert.js';
import { quantizeOnnx } from '../src/onnx/quantize.js';
import { writeFileAtomic } from '../src/core/files.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { resampleInto, TO_UNIT, wholeImage } from '../src/vision/resample.js';
import { spreadSample } from '../src/workflows/quantize/calibration-images.js';
import { loadLabelledData, samplesIn } from '../src/workflows/data/labelled-data.js';
import { parseDataSpec } from '../src/workflows/data/datasets.js';
import { DEFAULT_SPLIT } from '../src/workflows/data/split.js';
import { SSD_TRAINED_SIZE } from '../src/vision/ssd-decode.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SSD_DIR = path.join(ROOT, '..', 'shared', 'models', 'aizoo-face-mask-ssd');

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function calibrationInputs(count: number): Promise<Float32Array[]> {
  const roots = (JSON.parse(fs.readFileSync(path.join(ROOT, 'train', 'default.json'), 'utf8')) as { data: string[] }).data;
  const specs = roots.map((r) => parseDataSpec(r)).map((s) => ({ ...s, path: path.resolve(ROOT, s.path) }));
  const data = await loadLabelledData(specs, DEFAULT_SPLIT, path.join(ROOT, '.cache'));
  // Whole photos with faces in them (the VOC root), never the validation or test photos.
  const files = [...new Set(samplesIn(data, 'train').filter((s) => s.box && !s.synthetic).map((s) => s.file))].sort();
  const inputs: Float32Array[] = [];
  for (const file of spreadSample(files, count)) {
    const out = new Float32Array(3 * SSD_TRAINED_SIZE * SSD_TRAINED_SIZE);
    const img = await readImageFile(file);
    resampleInto(img, wholeImage(img), SSD_TRAINED_SIZE, SSD_TRAINED_SIZE, { norm: TO_UNIT, antialias: false, layout: 'nchw' }, out);
    inputs.push(out);
  }
  return inputs;
}

async function main(): Promise<void> {
  const count = Number(argValue('--count') ?? 64);
  const out = path.resolve(argValue('--out') ?? path.join(ROOT, '.cache', 'ssd-int8', 'aizoo-face-mask-ssd.int8.onnx'));
  const { net, weights } = readCaffeModel(path.join(SSD_DIR, 'face_mask_detection.prototxt'), path.join(SSD_DIR, 'face_mask_detection.caffemodel'));
  const fixed = convertCaffeModel(net, weights, { graphName: 'aizoo-face-mask-ssd', inputSize: { height: SSD_TRAINED_SIZE, width: SSD_TRAINED_SIZE } });
  const calibration = await calibrationInputs(count);
  // int8 weights (ORT's u8×s8 kernels): 2× faster than float here, where the VNNI instructions avoid the int16
  // saturation quantize.ts warns of; the uint8 copy (u8×u8) ran slower than float on this model.
  const weightType = (argValue('--weight-type') ?? 'int8') as 'uint8' | 'int8';
  const floatLayers = Number(argValue('--float-layers') ?? 0);
  const { model, report } = await quantizeOnnx(fixed.onnx, calibration, { method: 'percentile', weightType, floatLayers });
  const m = decodeModel(model);
  const free = (dims: Array<{ dimValue?: unknown; dimParam?: string | null }> | null | undefined, names: Record<number, string>) => {
    for (const [i, name] of Object.entries(names)) dims![Number(i)] = { dimParam: name };
  };
  free(m.graph!.input![0]!.type!.tensorType!.shape!.dim as never, { 2: 'height', 3: 'width' });
  for (const o of m.graph!.output!) free(o.type!.tensorType!.shape!.dim as never, { 1: `${o.name}_d1` });
  writeFileAtomic(out, encodeModel(m));
  const { opsBefore, opsAfter, bytes, tensorsQuantized, rounding, percentile, keptFloat } = report;
  console.log(JSON.stringify({ out: path.relative(ROOT, out), calibrationPhotos: calibration.length, percentile, weightType, floatLayers, keptFloat, rounding, tensorsQuantized, bytes, opsBefore, opsAfter }));
}

main().catch((err: unknown) => {
  process.stderr.write(`ssd-int8: ${(err as Error).message}\n`);
  process.exit(1);
});
