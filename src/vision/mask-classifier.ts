/**
 * The mask classifier on ONNX Runtime: a model dir (model-card.json + classifier ONNX files), sha256-checked,
 * input shape checked against the card, all faces of a frame in one batched run.
 */
import path from 'node:path';
import type * as Ort from 'onnxruntime-common';
import type { ClassifierInfo, MaskClassifier, PrecisionReport } from '../core/seams.js';
import type { Box, Frame, Label, Probs, Verdict } from '../core/types.js';
import { createLogger } from '../core/log.js';
import { ModelError } from '../core/errors.js';
import { readModelCard, verifiedModelFile, type ModelCard } from './model-card.js';
import type { RgbImage } from '../core/image.js';
import { faceInputs, faceView } from './face-crop.js';
import { readImageFile } from './image-decode.js';
import { closeSession, loadOrt, openSession } from '../onnx/session.js';
import { choosePrecision, fixedPrecision, loadCheckImages, readCpuInt8, type Precision, type PrecisionSetting } from './precision-choice.js';

const log = createLogger('classifier');

export interface ClassifierOptions {
  modelDir: string;
  /** auto: measured on this CPU at the first start (src/vision/precision-choice.ts). */
  precision: PrecisionSetting;
  /** Where auto keeps its choice across restarts (the config's stateDir); absent: measured once per process. */
  stateDir?: string | null;
  /** Overrides the card's cropMargin (the margin the model was trained with); leave unset normally. */
  cropMargin?: number;
  intraOpNumThreads?: number;
}

export class OnnxMaskClassifier implements MaskClassifier {
  private session: Ort.InferenceSession | undefined;
  private ort: typeof Ort | undefined;
  private card: ModelCard | undefined;
  private loaded: ClassifierInfo | undefined;
  private inputName = '';
  private outputName = '';

  constructor(private readonly opts: ClassifierOptions) {}

  get info(): ClassifierInfo {
    if (!this.loaded) throw new Error('OnnxMaskClassifier: start() was not called');
    return this.loaded;
  }

  get cropMargin(): number {
    return this.opts.cropMargin ?? this.card?.cropMargin ?? 0;
  }

  async start(): Promise<void> {
    const dir = this.opts.modelDir;
    const card = readModelCard(dir);
    const { precision, report } = await resolveClassifierPrecision(this.opts, card);
    const file = verifiedModelFile(dir, card, precision);
    this.ort = await loadOrt();
    const session = await openSession(file, { intraOpNumThreads: this.opts.intraOpNumThreads ?? 1, memPattern: false });
    const size = card.input.width;
    this.inputName = session.inputNames.includes(card.input.inputName) ? card.input.inputName : session.inputNames[0]!;
    this.outputName = session.outputNames.includes(card.input.outputName) ? card.input.outputName : session.outputNames[0]!;
    const meta = session.inputMetadata.find((m) => m.name === this.inputName);
    const dims = meta?.isTensor ? meta.shape.map((d) => (typeof d === 'number' ? d : -1)) : [];
    if (dims.length !== 4 || dims[1] !== size || dims[2] !== size || dims[3] !== 3) {
      await session.release();
      throw new ModelError(`model ${file}: input ${this.inputName} has shape [${dims.join(', ')}], but the card says [N, ${size}, ${size}, 3]`);
    }
    const outMeta = session.outputMetadata.find((m) => m.name === this.outputName);
    const outDims = outMeta?.isTensor ? outMeta.shape : [];
    if (outDims.length && outDims[outDims.length - 1] !== card.labels.length) {
      await session.release();
      throw new ModelError(`model ${file}: output ${this.outputName} has shape [${outDims.join(', ')}], expected ${card.labels.length} classes (${card.labels.join(', ')})`);
    }
    this.session = session;
    this.card = card;
    this.loaded = { name: card.name, sha256: card.files[precision]!.sha256, inputSize: size, labels: card.labels, precision, precisionReport: report };
  }

  async classifyFaces(frame: Frame | RgbImage, boxes: Box[]): Promise<Verdict[]> {
    if (!boxes.length) return [];
    return this.runInputs(this.inputsFor(frame, boxes), boxes.length);
  }

  /** The model inputs classifyFaces builds for these boxes (the one crop path, the card's margin). */
  inputsFor(frame: RgbImage, boxes: Box[]): Float32Array {
    return faceInputs(boxes.map((b) => faceView(frame, b, this.cropMargin)), this.info.inputSize);
  }

  /** Classifies whole images, each one a face crop. */
  async classifyCrops(images: RgbImage[]): Promise<Verdict[]> {
    if (!images.length) return [];
    return this.runInputs(faceInputs(images.map((img) => faceView(img, null, 0)), this.info.inputSize), images.length);
  }

  /** Classifies one face-crop image given as a file path or decoded RGB. */
  async classifyImage(input: string | RgbImage): Promise<Verdict> {
    const image = typeof input === 'string' ? await readImageFile(input) : input;
    return (await this.classifyCrops([image]))[0]!;
  }

  /** Runs the model on n prepared inputs (NHWC, as inputsFor builds them). */
  async runInputs(data: Float32Array, n: number): Promise<Verdict[]> {
    if (!this.session || !this.ort || !this.card) throw new Error('OnnxMaskClassifier: start() was not called');
    const size = this.info.inputSize;
    const out = await this.session.run({ [this.inputName]: new this.ort.Tensor('float32', data, [n, size, size, 3]) });
    const values = out[this.outputName]!.data as Float32Array;
    const k = this.card.labels.length;
    const verdicts: Verdict[] = [];
    for (let i = 0; i < n; i++) verdicts.push(toVerdict(values.subarray(i * k, (i + 1) * k), this.card.labels));
    return verdicts;
  }

  async close(): Promise<void> {
    await closeSession(this.session);
    this.session = undefined;
  }
}

/** Model outputs → Verdict. Rows that already are a distribution (a Softmax at the end of the model) are kept; logits get a softmax. */
export function toVerdict(row: ArrayLike<number>, labels: readonly Label[]): Verdict {
  const values = Array.from(row);
  const sum = values.reduce((a, b) => a + b, 0);
  const isDistribution = values.every((v) => v >= 0 && v <= 1) && Math.abs(sum - 1) < 1e-3;
  let probs = values;
  if (!isDistribution) {
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    probs = exps.map((e) => e / total);
  }
  const result = {} as Probs;
  labels.forEach((l, i) => (result[l] = probs[i]!));
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[best]!) best = i;
  return { label: labels[best]!, score: probs[best]!, probs: result };
}

/**
 * The precision a classifier with these options runs: auto measured on this CPU (or its cached choice), a missing
 * int8 file replaced by float; and why.
 */
export async function resolveClassifierPrecision(opts: ClassifierOptions, card: ModelCard = readModelCard(opts.modelDir)): Promise<{ precision: Precision; report: PrecisionReport }> {
  const { modelDir: dir, precision: setting } = opts;
  const weights = int8WeightsOf(card);
  if (setting === 'auto') {
    const choice = await choosePrecision<string>({
      what: 'classifier',
      files: { float: { file: path.join(dir, card.files.float.path), sha256: card.files.float.sha256 }, int8: card.files.int8 ? { file: path.join(dir, card.files.int8.path), sha256: card.files.int8.sha256 } : null },
      int8Weights: weights,
      open: (p) => classifierCandidate({ ...opts, precision: p }),
      same: (a, b) => a === b,
      checkName: 'check crops',
      stateDir: opts.stateDir ?? null,
      threads: opts.intraOpNumThreads ?? 1,
    });
    return { precision: choice.running, report: choice };
  }
  if (setting === 'int8' && !card.files.int8) {
    log.warn(`model ${dir}: no int8 file in its card, using the float model`);
    return { precision: 'float', report: fixedPrecision('int8', 'float', 'the model has no int8 file') };
  }
  if (setting === 'int8' && weights !== 'uint8' && !readCpuInt8().signedWeightsExact) log.warn(`model ${dir}: its int8 weights saturate on this CPU (no VNNI), so labels can differ from float; classifier.precision auto or float avoids that`);
  return { precision: setting, report: fixedPrecision(setting, setting) };
}

/** The classifier at a fixed precision, its model run timed on a real face crop, answering the check crops (for auto). */
async function classifierCandidate(opts: ClassifierOptions & { precision: Precision }) {
  const crops = await loadCheckImages('crops');
  if (!crops.length) throw new ModelError('precision auto: the check crops (models/precision-check/crops) are missing; set classifier.precision to int8 or float');
  const c = await createMaskClassifier(opts);
  const input = faceInputs([faceView(crops[0]!, null, 0)], c.info.inputSize);
  return {
    run: () => c.runInputs(input, 1),
    answers: async () => {
      const labels: string[] = [];
      for (const crop of crops) labels.push((await c.classifyCrops([crop]))[0]!.label);
      return labels;
    },
    close: () => c.close(),
  };
}

/** How the card's int8 file stores its weights (maskwatch quantize records it). */
function int8WeightsOf(card: ModelCard): 'int8' | 'uint8' | 'unknown' {
  const q = card.quantization as { weights?: unknown; report?: { weightType?: unknown } } | undefined;
  const text = String(q?.report?.weightType ?? q?.weights ?? '');
  return text.startsWith('uint8') ? 'uint8' : text.startsWith('int8') ? 'int8' : 'unknown';
}

/** Constructs and starts a classifier. */
export async function createMaskClassifier(opts: ClassifierOptions): Promise<OnnxMaskClassifier> {
  const c = new OnnxMaskClassifier(opts);
  await c.start();
  return c;
}
