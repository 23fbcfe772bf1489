/** Quantizes the float classifier of a model dir: writes classifier.int8.onnx and records how in the model card. */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { fsErrorText, writeFileAtomic } from '../../core/files.js';
import { readModelCard, verifiedModelFile, writeModelCard, type ModelCard } from '../../vision/model-card.js';
import { compareClassifiers, inspectOptimizedOps, summarizeKernels, type Agreement } from '../../onnx/quantize-inspect.js';
import { cropFileToInput, listImageFiles, loadDataRootFaces, spreadSample } from './calibration-images.js';
import { quantizeOnnx, type QuantizeReport } from '../../onnx/quantize.js';
import { quantizeForAgreement } from '../../onnx/quantize-search.js';
import { loadCardData } from '../eval/eval-run.js';
import { samplesIn } from '../data/labelled-data.js';
import { classifySamples } from '../eval/evaluate.js';
import { quantizeStep } from './quantize-step.js';
import { rounded } from '../eval/metrics.js';

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
  /** Leading weighted layers kept float; searched (fewest reaching the agreement target) when absent. */
  floatLayers?: number;
  /** Feature/probe cache for card mode. */
  cacheDir?: string;
  progress?: boolean;
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
  if (opts.calibration && opts.data) throw new Error('calibration: give one of --calibration DIR_OF_CROPS or --data ROOT, not both');
  if (!opts.calibration && !opts.data) return quantizeFromCard(dir, opts);

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
  const quantizeOptions = {
    method: opts.method,
    percentile: opts.percentile,
    weightType: opts.weights === 'uint8' ? ('uint8' as const) : ('int8' as const),
    reduceRange: opts.weights === 'int8-7bit',
    floatLayers: opts.floatLayers,
  };
  const { model, report } = check.length
    ? await quantizeForAgreement(floatBytes, calibration, check, quantizeOptions)
    : await quantizeOnnx(floatBytes, calibration, quantizeOptions);
  const on = check.length ? `${check.length} crops not used for calibration` : `the ${calibration.length} calibration crops (no others available)`;
  const agreement = { on, ...(await compareClassifiers(floatBytes, model, check.length ? check : calibration)) };
  const opsAfterOptimization = await inspectOptimizedOps(model);

  const file = path.join(dir, INT8_FILE);
  const previousCard = structuredClone(card);
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
    floatLayers: report.floatLayers,
  };
  installInt8(dir, model, card, previousCard);
  return { file, report, agreement, opsAfterOptimization };
}

/**
 * Puts a new int8 file and the card that names it in place so that the folder always holds a matching pair: the
 * file goes to a temp name, then the card, then the rename (a full disk fails at the first two, changing nothing).
 */
function installInt8(dir: string, model: Uint8Array, card: ModelCard, previousCard: ModelCard): void {
  const staged = path.join(dir, `.${INT8_FILE}.${process.pid}.new`);
  writeFileAtomic(staged, model);
  try {
    card.files.int8 = { path: INT8_FILE, sha256: createHash('sha256').update(model).digest('hex'), bytes: model.byteLength };
    writeModelCard(dir, card);
  } catch (err) {
    fs.rmSync(staged, { force: true });
    throw err;
  }
  try {
    fs.renameSync(staged, path.join(dir, INT8_FILE));
  } catch (err) {
    fs.rmSync(staged, { force: true });
    writeModelCard(dir, previousCard);
    throw new Error(`cannot put ${path.join(dir, INT8_FILE)} in place: ${fsErrorText(err)}`);
  }
}

/**
 * No calibration folder or data root given: the model's own training data and split from its card, exactly as
 * `maskwatch train` quantizes (calibration on training faces, float prefix chosen off the test split), and the
 * card's and eval.json's int8 figures on the test split are brought up to date.
 */
async function quantizeFromCard(dir: string, opts: QuantizeDirOptions): Promise<QuantizeDirResult> {
  const card = readModelCard(dir);
  const floatFile = verifiedModelFile(dir, card, 'float');
  const { data, split } = await loadCardData(card, opts.cacheDir ?? '.cache/features', dir, '--calibration DIR or --data ROOT');
  const test = samplesIn(data, 'test');
  const minFace = Number((card.metrics as { minFace?: number } | undefined)?.minFace ?? 32);
  const common = { margin: card.cropMargin, inputSize: card.input.width, progress: opts.progress ?? false };
  const testFloat = await classifySamples(floatFile, test, { ...common, title: 'test float' });
  const floatBytes = fs.readFileSync(floatFile);
  const q = await quantizeStep({
    floatBytes,
    training: samplesIn(data, 'train'),
    validation: samplesIn(data, 'validation'),
    test,
    testFloat,
    opts: { ...common, minFace, seed: split.seed, calibrationCount: opts.samples },
    floatLayers: opts.floatLayers,
    method: opts.method,
    percentile: opts.percentile,
    weightType: opts.weights === 'uint8' ? 'uint8' : 'int8',
    reduceRange: opts.weights === 'int8-7bit',
  });
  const file = path.join(dir, INT8_FILE);
  const previousCard = structuredClone(card);
  card.quantization = q.record;
  card.metrics = { ...card.metrics, testInt8: rounded({ all: q.int8.int8.all, minFace, large: q.int8.int8.large }) };
  installInt8(dir, q.model, card, previousCard);
  const evalFile = path.join(dir, 'eval.json');
  if (fs.existsSync(evalFile)) {
    const evalJson = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as Record<string, unknown>;
    const i = q.int8;
    evalJson.int8 = rounded({ labelAgreementPct: i.labelAgreementPct, labelAgreementPctLarge: i.labelAgreementPctLarge, macroF1Delta: i.macroF1Delta, macroF1DeltaLarge: i.macroF1DeltaLarge, test: { all: i.int8.all, minFace, large: i.int8.large } });
    writeFileAtomic(evalFile, JSON.stringify(evalJson, null, 2) + '\n');
  }
  const report = (q.record.report ?? {}) as QuantizeReport;
  const agreement = { on: `test faces ≥ ${minFace} px`, samples: test.filter((s) => s.faceSize >= minFace).length, labelAgreement: q.int8.labelAgreementPctLarge / 100, maxProbDiff: q.int8.maxProbDiff, meanProbDiff: q.int8.meanProbDiff };
  return { file, report, agreement, opsAfterOptimization: await inspectOptimizedOps(q.model) };
}

