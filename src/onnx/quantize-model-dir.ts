/** Quantizes the float classifier of a model dir: writes classifier.int8.onnx and records how in the model card. */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../core/files.js';
import { fileEntry, readModelCard, verifiedModelFile, writeModelCard } from '../vision/model-card.js';
import { compareClassifiers, inspectOptimizedOps, summarizeKernels, type Agreement } from './quantize-inspect.js';
import { cropFileToInput, listImageFiles, loadDataRootFaces, spreadSample } from './quantize-images.js';
import { quantizeOnnx, type QuantizeReport } from './quantize.js';

export const INT8_FILE = 'classifier.int8.onnx';

export type WeightMode = 'int8' | 'int8-7bit' | 'uint8';

export interface QuantizeDirOptions {
  method: 'minmax' | 'percentile';
  percentile?: number;
  /** A folder of face crops, or a labelled data root whose faces are cut with the card's crop margin. */
  calibration?: string;
  data?: string;
  samples: number;
  /** Crops (not used for calibration) the int8 model is compared with the float model on. */
  check: number;
  weights: WeightMode;
}

export interface QuantizeDirResult {
  file: string;
  report: QuantizeReport;
  agreement: Agreement & { on: string };
  opsAfterOptimization: Record<string, number>;
}

export async function quantizeModelDir(dir: string, opts: QuantizeDirOptions): Promise<QuantizeDirResult> {
  const card = readModelCard(dir);
  const floatFile = verifiedModelFile(dir, card, 'float');
  const size = card.input.width;
  if (!(opts.samples >= 1)) throw new Error(`--samples must be at least 1, got ${opts.samples}`);
  if (!!opts.calibration === !!opts.data) throw new Error('calibration: give exactly one of --calibration DIR_OF_CROPS or --data ROOT');

  let calibration: Float32Array[];
  let check: Float32Array[];
  let description: string;
  if (opts.calibration) {
    const files = listImageFiles(opts.calibration);
    if (!files.length) throw new Error(`calibration folder ${opts.calibration}: no images (.jpg, .jpeg, .png, .webp) in it`);
    const calFiles = spreadSample(files, opts.samples);
    const chosen = new Set(calFiles);
    const checkFiles = spreadSample(files.filter((f) => !chosen.has(f)), opts.check);
    calibration = await Promise.all(calFiles.map((f) => cropFileToInput(f, size)));
    check = await Promise.all(checkFiles.map((f) => cropFileToInput(f, size)));
    description = `face crops in ${opts.calibration}`;
  } else {
    // Alternate faces between calibration and the agreement check so the check is on faces calibration never saw.
    const { inputs } = await loadDataRootFaces(opts.data!, size, card.cropMargin, opts.samples + opts.check);
    const calIdx = new Set(spreadSample([...inputs.keys()], Math.min(opts.samples, inputs.length)));
    calibration = inputs.filter((_, i) => calIdx.has(i));
    check = inputs.filter((_, i) => !calIdx.has(i)).slice(0, opts.check);
    description = `faces of ${opts.data} (crop margin ${card.cropMargin})`;
  }
  if (!calibration.length) throw new Error('calibration: no calibration images');

  const floatBytes = fs.readFileSync(floatFile);
  const { model, report } = await quantizeOnnx(floatBytes, calibration, {
    method: opts.method,
    percentile: opts.percentile,
    weightType: opts.weights === 'uint8' ? 'uint8' : 'int8',
    reduceRange: opts.weights === 'int8-7bit',
  });
  const on = check.length ? `${check.length} crops not used for calibration` : `the ${calibration.length} calibration crops (no others available)`;
  const agreement = { on, ...(await compareClassifiers(floatBytes, model, check.length ? check : calibration)) };
  const opsAfterOptimization = await inspectOptimizedOps(model);

  const file = path.join(dir, INT8_FILE);
  writeFileAtomic(file, model);
  card.files.int8 = fileEntry(dir, INT8_FILE);
  card.quantization = {
    created: new Date().toISOString(),
    tool: 'maskwatch quantize (QDQ, ONNX Runtime integer kernels)',
    method: opts.method,
    ...(report.percentile !== undefined ? { percentile: report.percentile } : {}),
    weights: opts.weights === 'int8-7bit' ? 'int8 per-channel symmetric, 7-bit range' : `${opts.weights} per-channel symmetric`,
    activations: 'uint8 per-tensor asymmetric',
    calibrationSet: { description, count: calibration.length },
    agreement: { on, samples: agreement.samples, labelAgreement: agreement.labelAgreement, maxProbDiff: agreement.maxProbDiff, meanProbDiff: agreement.meanProbDiff },
    opsAfterOptimization,
    kernels: summarizeKernels(opsAfterOptimization),
    bytes: report.bytes,
    tensorsQuantized: report.tensorsQuantized,
  };
  writeModelCard(dir, card);
  return { file, report, agreement, opsAfterOptimization };
}
