/**
 * `npm run models:convert [-- <shared models dir>]`: converts the MediaPipe TF.js graph models
 * (BlazeFace front/back, FaceMesh) and the AIZOO face-mask SSD (Caffe) to ONNX under models/<name>/,
 * with a README giving licence and sha256s. Only the .onnx ships; the originals stay in the shared folder.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { convertCaffeModel, readCaffeModel } from '../src/onnx/caffe-convert.js';
import { convertGraphModel, readTfjsGraphModel } from '../src/onnx/graph-convert.js';
import { SSD_TRAINED_SIZE } from '../src/vision/ssd-decode.js';
import { DEFAULT_SPLIT } from '../src/workflows/data/split.js';
import { detectorCalibrationInputs, quantizeDetector } from '../src/workflows/quantize/quantize-detector.js';
import { fitBoxCalibration } from '../src/workflows/data/box-calibration.js';
import { loadLabelledData, samplesIn } from '../src/workflows/data/labelled-data.js';
import { parseDataSpec } from '../src/workflows/data/datasets.js';
import { sha256, sha256File, writeFileAtomic } from '../src/core/files.js';
import { loadConfig } from '../src/config/load.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SSD_CALIBRATION_PHOTOS = 64;
export const CONVERTED_MODELS = ['blazeface-front', 'blazeface-back', 'facemesh'] as const;

const ABOUT: Record<(typeof CONVERTED_MODELS)[number], string> = {
  'blazeface-front': 'BlazeFace short-range face detector (faces within about 2 m). Input 1×128×128×3 RGB in [-1, 1]; outputs 896 anchors (512 at stride 8, 384 at stride 16): 16 regressors (box + 6 keypoints) and 1 score logit each.',
  'blazeface-back': 'BlazeFace full-range ("back camera") face detector. Input 1×256×256×3 RGB in [-1, 1]; outputs 896 anchors (512 at stride 16, 384 at stride 32): 16 regressors and 1 score logit each.',
  facemesh: 'MediaPipe FaceMesh. Input N×192×192×3 RGB in [0, 1] (a face crop); outputs 468 landmarks (x, y, z in crop pixels, 1404 values), a face-flag score (already a sigmoid) and 266 contour values.',
};

export function convertModel(sharedDir: string, name: string, outRoot: string): { onnxFile: string; sourceSha: string; onnxSha: string } {
  const jsonFile = path.join(sharedDir, name, `${name}.json`);
  const { json, weightData } = readTfjsGraphModel(jsonFile);
  const result = convertGraphModel(json, weightData, name);
  const outDir = path.join(outRoot, name);
  const onnxFile = path.join(outDir, `${name}.onnx`);
  writeFileAtomic(onnxFile, result.onnx);
  const sources = [jsonFile, ...json.weightsManifest.flatMap((g) => g.paths.map((p) => path.join(path.dirname(jsonFile), p)))];
  const sourceLines = sources.map((f) => `    ${sha256File(f)}  ${path.basename(f)}`).join('\n');
  const onnxSha = sha256(result.onnx);
  const halfWeights = json.weightsManifest.some((g) => g.weights.some((w) => w.quantization));
  const changes = `${halfWeights ? 'dequantized weights (float16 → float32), ' : ''}NHWC → NCHW layout inside`;
  const shape = (s: number[]) => `[${s.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`;
  writeFileAtomic(
    path.join(outDir, 'README.md'),
    `# ${name}\n\n${ABOUT[name as keyof typeof ABOUT] ?? ''}\n\n` +
      `- Inputs: ${result.inputs.map((i) => `\`${i.name}\` ${shape(i.shape)} (NHWC)`).join(', ')}\n` +
      `- Outputs: ${result.outputs.map((o) => `\`${o.name}\` ${shape(o.shape)}`).join(', ')}\n\n` +
      `## Licence\n\nModel and weights: Google MediaPipe, Apache-2.0. Converted to a TensorFlow.js graph model by\n` +
      `Vladimir Mandic (MIT). Converted from TF.js to ONNX by maskwatch's \`scripts/convert-models.ts\`\n` +
      `(src/onnx/graph-convert.ts); the weights are unchanged apart from ${changes}.\n` +
      `See LICENSE.md.\n\n## sha256\n\nOriginal TF.js files:\n\n${sourceLines}\n\nConverted:\n\n    ${onnxSha}  ${name}.onnx\n`,
  );
  writeFileAtomic(
    path.join(outDir, 'LICENSE.md'),
    `${name}.onnx is derived from Google MediaPipe's ${name} model.\n\n` +
      `- Original model: Copyright Google LLC, Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0),\n  https://github.com/google/mediapipe\n` +
      `- TensorFlow.js conversion: Vladimir Mandic, MIT License, https://github.com/vladmandic\n` +
      `- ONNX conversion: the maskwatch authors, MIT License.\n\n` +
      `Changes: format conversion only (TF.js graph → ONNX; ${changes}).\n`,
  );
  return { onnxFile, sourceSha: sha256File(jsonFile), onnxSha };
}

export const SSD_NAME = 'aizoo-face-mask-ssd';
/** A summary of models/aizoo-face-mask-ssd/measurements.md (bench/ssd-measure.ts), written by hand. */
const SSD_MEASURED = [
  'bench/ssd-measure.ts, 2026-12-01, Intel Xeon (2 cores shared with other jobs, so timings are noisy; avx512_vnni and',
  'avx_vnni present), ONNX Runtime 1 thread, graph optimisation \'all\'. Speed = median detect() on a 640×480 frame',
  '(bilinear resize + /255 NCHW, model run, decode + NMS). Recall = share of door-distance faces (≥ 32 px, 10–40 % of the',
  'photo width) matched at IoU ≥ 0.3, on the validation split of the Kaggle set as the trainer splits it (127 photos;',
  'n = 101 mask, 6 mask_incorrect, 8 no_mask, so one face is 12.5 % of no_mask), score ≥ 0.3.',
  '',
  '| model, input, anchors | detect() ms | mask | mask_incorrect | no_mask | median IoU |',
  '|---|---|---|---|---|---|',
  '| float, 260, published | 17.9 (model run 14.7; 11.2 in a quieter moment) | 0.990 | 1.000 | 1.000 | 0.69 |',
  '| float, 224, published | 9.6 | 0.950 | 1.000 | 0.875 | 0.59 |',
  '| float, 320×240, receptive-field grid + 260-px sizes | 13.9 | 0.990 | 1.000 | 0.875 | 0.61 |',
  '| int8 QDQ (bench/ssd-int8.ts, not shipped), 260, published | 8.0 | 0.990 | 1.000 | 1.000 | 0.69 |',
  '| int8, 288×216, receptive-field grid + 260-px sizes | 7.2 | 0.990 | 1.000 | 0.875 | 0.60 |',
  '| int8, 256×192, receptive-field grid + 260-px sizes | 5.9 | 0.980 | 1.000 | 0.875 | 0.62 |',
  '| BlazeFace front 128, score ≥ 0.75 (for comparison) | – | 0.545 | 0.500 | 0.625 | 0.74 |',
  '',
  'An antialiased (area) resize found the same faces as bilinear (within ±0.02) at 3–4 ms more per frame. Away from',
  '260 px the published anchor grid moves against the network\'s receptive fields and boxes come out shifted right by',
  '0.17–0.23 face widths; the receptive-field grid (src/vision/ssd-decode.ts) removes that. The SSD\'s boxes sit about',
  '0.15 face heights higher than the Kaggle boxes at every size (a difference in where the boxes were drawn).',
].join('\n');
const SSD_SOURCES = ['face_mask_detection.prototxt', 'face_mask_detection.caffemodel'];

/** The SSD converted with symbolic input height/width; the same bytes every run. */
export function convertSsd(sharedDir: string): ReturnType<typeof convertCaffeModel> {
  const dir = path.join(sharedDir, SSD_NAME);
  const { net, weights } = readCaffeModel(path.join(dir, SSD_SOURCES[0]!), path.join(dir, SSD_SOURCES[1]!));
  return convertCaffeModel(net, weights, { graphName: SSD_NAME });
}

export function convertSsdModel(sharedDir: string, outRoot: string): { onnxFile: string; onnxSha: string } {
  const result = convertSsd(sharedDir);
  const outDir = path.join(outRoot, SSD_NAME);
  const onnxFile = path.join(outDir, `${SSD_NAME}.onnx`);
  writeFileAtomic(onnxFile, result.onnx);
  const onnxSha = sha256(result.onnx);
  const sourceLines = SSD_SOURCES.map((f) => `    ${sha256File(path.join(sharedDir, SSD_NAME, f))}  ${f}`).join('\n');
  const dims = (d: Array<number | string>) => `[${d.join(', ')}]`;
  writeFileAtomic(
    path.join(outDir, 'README.md'),
    `# ${SSD_NAME}\n\n` +
      `AIZOOTech's face-mask SSD (github.com/AIZOOTech/FaceMaskDetection, MIT): a small SSD face detector (1.01 M parameters,\n` +
      `8-layer backbone) trained on WIDER FACE + MAFA, so it finds faces **with** masks as well as without, which BlazeFace\n` +
      `(trained on bare faces) mostly misses. Its own two classes are Mask / NoMask (no "worn incorrectly").\n` +
      `Used by src/vision/ssd-detector.ts (decoding in src/vision/ssd-decode.ts).\n\n` +
      `## Input and outputs\n\n` +
      `- Input: ${result.inputs.map((i) => `\`${i.name}\` ${dims(i.dims)}`).join(', ')}, NCHW float32, RGB, \`pixel / 255\`, no mean. Height and\n` +
      `  width are free (the net is fully convolutional; each side must be ≥ 129 px); it was trained at 260×260, the whole photo\n` +
      `  resized (stretched) to it.\n` +
      `- Outputs (N anchors; N = ${result.outputs[0]!.shape[1]} at ${result.referenceInputShape.slice(2).join('×')}): ` +
      `${result.outputs.map((o) => `\`${o.name}\` ${dims(o.dims)}`).join(', ')}. \`loc_branch_concat\`: box regressions\n` +
      `  (dx, dy, dw, dh); \`cls_branch_concat\`: per-class sigmoid scores, index 0 Mask, 1 NoMask (independent, not summing to 1).\n\n` +
      `## Anchors and decoding\n\n` +
      `Five feature maps; each 2×2 stride-2 max pool rounds up (Caffe), so a side n gives ⌈n/8⌉, ⌈n/16⌉, ⌈n/32⌉, ⌈n/64⌉ and\n` +
      `⌈n/64⌉ − 2 cells (260 → 33, 17, 9, 5, 3; 320×240 → 40×30, 20×15, 10×8, 5×4, 3×2). Anchor sizes per map (relative to the image)\n` +
      `[0.04, 0.056], [0.08, 0.11], [0.16, 0.22], [0.32, 0.45], [0.64, 0.72]; aspect ratios 1, 0.62, 0.42. Per cell, in output\n` +
      `order: each size at ratio 1, then the first size at ratios 0.62 and 0.42 (width = size·√ratio, height = size/√ratio); centres\n` +
      `((x + 0.5)/cols, (y + 0.5)/rows), row-major. Decode with variances 0.1, 0.1, 0.2, 0.2: centre = anchor centre + 0.1·dx·anchor\n` +
      `width (same for y), width = anchor width·exp(0.2·dw) (same for height). Score = the larger class score; greedy NMS at IoU 0.4.\n` +
      `These are the published anchors, exact at 260 px. For other input sizes ssd-decode.ts can also place the centres on the\n` +
      `network's receptive fields (offset as they were on average at 260) and keep the anchor sizes in 260-px pixels; see below.\n\n` +
      `## Conversion\n\n` +
      `Converted from the published Caffe files by maskwatch's \`scripts/convert-models.ts\` (src/onnx/caffe-convert.ts, ONNX opset 13):\n` +
      `layer for layer (Convolution → Conv, ReLU → Relu, Pooling MAX → MaxPool with ceil_mode 1, Permute → Transpose, Reshape,\n` +
      `Concat, Sigmoid); weights float32 and unchanged except ${result.flushedDenormals} denormal values (|w| < 2⁻¹²⁶, one dead filter of\n` +
      `the first conv) written as 0: they made ONNX Runtime's x86 NCHWc conv run that layer ~10× slower (112 → 12 ms per run\n` +
      `at 260) and change no output. Checked in test/onnx-caffe-convert.test.ts against the outputs of OpenCV's\n` +
      `Caffe importer on two photos (shared/models/${SSD_NAME}/reference).\n\n` +
      `## Measured here\n\n${SSD_MEASURED}\n\nAll tables (every input size and threshold, both resizes, both anchor grids, float and int8): measurements.md.\n\n` +
      `## Licence\n\nMIT, AIZOOTech; see LICENSE.md.\n\n## sha256\n\nOriginal Caffe files:\n\n${sourceLines}\n\nConverted:\n\n    ${onnxSha}  ${SSD_NAME}.onnx\n`,
  );
  const licence = fs.readFileSync(path.join(sharedDir, SSD_NAME, 'LICENSE'), 'utf8').trimEnd();
  writeFileAtomic(
    path.join(outDir, 'LICENSE.md'),
    `${licence}\n\n---\n\n${SSD_NAME}.onnx is AIZOOTech's face_mask_detection Caffe model converted to ONNX by the maskwatch authors ` +
      `(format conversion only, weights unchanged).\n`,
  );
  return { onnxFile, onnxSha };
}

async function main(): Promise<void> {
  const sharedDir = path.resolve(process.argv[2] ?? path.join(ROOT, '..', 'shared', 'models'));
  for (const name of CONVERTED_MODELS) {
    const r = convertModel(sharedDir, name, path.join(ROOT, 'models'));
    console.log(`${name}: ${path.relative(ROOT, r.onnxFile)} sha256 ${r.onnxSha}`);
  }
  const r = convertSsdModel(sharedDir, path.join(ROOT, 'models'));
  console.log(`${SSD_NAME}: ${path.relative(ROOT, r.onnxFile)} sha256 ${r.onnxSha}`);
  const q = await writeSsdInt8(sharedDir, path.join(ROOT, 'models'));
  console.log(`${SSD_NAME} int8: ${path.relative(ROOT, q.file)} sha256 ${q.sha}`);
  const c = await writeBoxCalibration(path.join(ROOT, 'models'));
  console.log(`${SSD_NAME} box calibration: ${JSON.stringify(c)}`);
}

/** The SSD's box calibration, fitted on the training photos of train/default.json's data and split. */
export async function writeBoxCalibration(outRoot: string): Promise<Awaited<ReturnType<typeof fitBoxCalibration>>> {
  const { roots, split } = defaultTrainingData();
  const data = await loadLabelledData(roots.map(parseDataSpec), split, path.join(ROOT, '.cache'));
  const cal = await fitBoxCalibration(samplesIn(data, 'train'), { ...loadConfig({ env: {} }).config.detector, model: 'ssd', precision: 'float', inputSize: SSD_TRAINED_SIZE, scoreThreshold: null, iouThreshold: null, minFaceSize: 0, maxFaces: 100 });
  writeFileAtomic(path.join(outRoot, SSD_NAME, 'box-calibration.json'), JSON.stringify({ ...cal, fitted: 'median offsets of the float SSD\'s boxes from the hand-drawn ones, faces matched at IoU ≥ 0.3, train split of train/default.json' }, null, 2) + '\n');
  return cal;
}

function defaultTrainingData(): { roots: string[]; split: typeof DEFAULT_SPLIT } {
  const train = JSON.parse(fs.readFileSync(path.join(ROOT, 'train', 'default.json'), 'utf8')) as { data: string[]; seed?: number };
  const roots = train.data.map((r) => path.resolve(ROOT, r.split('=')[0]!) + (r.includes('=') ? `=${r.split('=')[1]}` : ''));
  return { roots, split: { ...DEFAULT_SPLIT, seed: train.seed ?? DEFAULT_SPLIT.seed } };
}

/** The int8 copy, calibrated on the training photos of train/default.json's data roots and split. */
export async function writeSsdInt8(sharedDir: string, outRoot: string): Promise<{ file: string; sha: string }> {
  const dir = path.join(sharedDir, SSD_NAME);
  const { net, weights } = readCaffeModel(path.join(dir, SSD_SOURCES[0]!), path.join(dir, SSD_SOURCES[1]!));
  const fixed = convertCaffeModel(net, weights, { graphName: SSD_NAME, inputSize: { height: SSD_TRAINED_SIZE, width: SSD_TRAINED_SIZE } });
  const { roots, split } = defaultTrainingData();
  const { inputs, photos } = await detectorCalibrationInputs({ roots, split, count: SSD_CALIBRATION_PHOTOS, inputSize: SSD_TRAINED_SIZE, cacheDir: path.join(ROOT, '.cache') });
  const { model, report } = await quantizeDetector(fixed.onnx, inputs);
  const file = path.join(outRoot, SSD_NAME, `${SSD_NAME}.int8.onnx`);
  writeFileAtomic(file, model);
  const sha = sha256(model);
  writeFileAtomic(
    path.join(outRoot, SSD_NAME, 'int8.json'),
    JSON.stringify({ file: path.basename(file), sha256: sha, method: report.method, percentile: report.percentile, weights: 'int8 per-channel symmetric (u8×s8 kernels)', activations: 'uint8 per-tensor asymmetric', calibration: { photos: photos.length, from: 'the train split of train/default.json (never validation or test)', inputSize: SSD_TRAINED_SIZE }, tensorsQuantized: report.tensorsQuantized }, null, 2) + '\n',
  );
  return { file, sha };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`convert-models: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
