/**
 * The mask classifier on ONNX Runtime: a model dir (model-card.json + classifier ONNX files), sha256-checked,
 * input shape checked against the card, all faces of a frame in one batched run.
 */
import type * as Ort from 'onnxruntime-common';
import type { ClassifierInfo, MaskClassifier } from '../core/seams.js';
import type { Box, Frame, Label, Probs, Verdict } from '../core/types.js';
import { createLogger } from '../core/log.js';
import { ModelError } from '../core/errors.js';
import { readModelCard, verifiedModelFile, type ModelCard } from './model-card.js';
import type { RgbImage } from '../core/image.js';
import { faceInputs, faceView } from './face-crop.js';
import { readImageFile } from './image-decode.js';
import { closeSession, loadOrt, openSession } from '../onnx/session.js';

const log = createLogger('classifier');

export interface ClassifierOptions {
  modelDir: string;
  precision: 'float' | 'int8';
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
    let precision = this.opts.precision;
    if (precision === 'int8' && !card.files.int8) {
      log.warn(`model ${dir}: no int8 file in its card, using the float model`);
      precision = 'float';
    }
    const file = verifiedModelFile(dir, card, precision);
    this.ort = await loadOrt();
    const session = await openSession(file, { intraOpNumThreads: this.opts.intraOpNumThreads ?? 1 });
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
    this.loaded = { name: card.name, sha256: card.files[precision]!.sha256, inputSize: size, labels: card.labels, precision };
  }

  async classifyFaces(frame: Frame | RgbImage, boxes: Box[]): Promise<Verdict[]> {
    if (!boxes.length) return [];
    return this.runBatch(this.inputsFor(frame, boxes), boxes.length);
  }

  /** The model inputs classifyFaces builds for these boxes (the one crop path, the card's margin). */
  inputsFor(frame: RgbImage, boxes: Box[]): Float32Array {
    return faceInputs(boxes.map((b) => faceView(frame, b, this.cropMargin)), this.info.inputSize);
  }

  /** Classifies whole images, each one a face crop. */
  async classifyCrops(images: RgbImage[]): Promise<Verdict[]> {
    if (!images.length) return [];
    return this.runBatch(faceInputs(images.map((img) => faceView(img, null, 0)), this.info.inputSize), images.length);
  }

  /** Classifies one face-crop image given as a file path or decoded RGB. */
  async classifyImage(input: string | RgbImage): Promise<Verdict> {
    const image = typeof input === 'string' ? await readImageFile(input) : input;
    return (await this.classifyCrops([image]))[0]!;
  }

  private async runBatch(data: Float32Array, n: number): Promise<Verdict[]> {
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

/** Constructs and starts a classifier. */
export async function createMaskClassifier(opts: ClassifierOptions): Promise<OnnxMaskClassifier> {
  const c = new OnnxMaskClassifier(opts);
  await c.start();
  return c;
}
