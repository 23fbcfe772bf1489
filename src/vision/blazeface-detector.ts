/**
 * BlazeFace on ONNX Runtime: letterbox the frame into the model square (own bilinear resize on the raw RGB,
 * no sharp round trip), run, decode anchors, weighted NMS, map back to image pixels.
 */
import path from 'node:path';
import type * as Ort from 'onnxruntime-common';
import type { FaceDetector } from '../core/seams.js';
import type { Box, Face, Frame } from '../core/types.js';
import { ANCHOR_OPTIONS, decodeDetections, generateAnchors, toImageFace, weightedNms, type BlazeFaceVariant } from './blazeface-decode.js';
import { letterboxRegion, resampleInto, TO_PLUS_MINUS_ONE } from './resample.js';
import { ModelError } from '../core/errors.js';
import { REPO_ROOT } from '../core/paths.js';
import { closeSession, loadOrt, openSession } from '../onnx/session.js';

export interface BlazeFaceOptions {
  variant: BlazeFaceVariant;
  scoreThreshold: number;
  iouThreshold: number;
  /** Faces narrower than this (image pixels) are dropped. */
  minFaceSize: number;
  maxFaces: number;
  /** Defaults to models/blazeface-<variant>/blazeface-<variant>.onnx. */
  modelFile?: string;
  intraOpNumThreads?: number;
  allowSpinning?: boolean;
}

export function blazeFaceModelFile(variant: BlazeFaceVariant): string {
  return path.join(REPO_ROOT, 'models', `blazeface-${variant}`, `blazeface-${variant}.onnx`);
}

export class BlazeFaceDetector implements FaceDetector {
  readonly inputSize: number;
  private session: Ort.InferenceSession | undefined;
  private ort: typeof Ort | undefined;
  private readonly anchors: Float32Array;
  private readonly input: Float32Array;

  constructor(private readonly opts: BlazeFaceOptions) {
    this.inputSize = ANCHOR_OPTIONS[opts.variant].inputSize;
    this.anchors = generateAnchors(ANCHOR_OPTIONS[opts.variant]);
    this.input = new Float32Array(this.inputSize * this.inputSize * 3);
  }

  async start(): Promise<void> {
    this.ort = await loadOrt();
    const file = this.opts.modelFile ?? blazeFaceModelFile(this.opts.variant);
    this.session = await openSession(file, { intraOpNumThreads: this.opts.intraOpNumThreads ?? 1, allowSpinning: this.opts.allowSpinning });
    const dims = this.session.inputMetadata[0]?.isTensor ? this.session.inputMetadata[0].shape : undefined;
    if (dims && (dims[1] !== this.inputSize || dims[2] !== this.inputSize))
      throw new ModelError(`detector ${file}: input is [${dims}], expected [1, ${this.inputSize}, ${this.inputSize}, 3] for blazeface-${this.opts.variant}`);
  }

  /** Letterboxes the frame into the input tensor; returns the image region the model square covers. */
  preprocess(frame: Pick<Frame, 'width' | 'height' | 'rgb'>): Box {
    const region = letterboxRegion(frame.width, frame.height);
    resampleInto(frame, region, this.inputSize, this.inputSize, { norm: TO_PLUS_MINUS_ONE, antialias: false }, this.input);
    return region;
  }

  /** The bare model run on the current input tensor: regressors (N×16) and logits (N), 512-anchor head first. */
  async infer(): Promise<{ regressors: Float32Array; logits: Float32Array }> {
    if (!this.session || !this.ort) throw new Error('BlazeFaceDetector: start() was not called');
    const s = this.inputSize;
    const out = await this.session.run({ [this.session.inputNames[0]!]: new this.ort.Tensor('float32', this.input, [1, s, s, 3]) });
    const heads = Object.values(out).sort((a, b) => b.dims[1]! - a.dims[1]!); // 512-anchor head first
    const regs = heads.filter((t) => t.dims[2] === 16).map((t) => t.data as Float32Array);
    const logits = heads.filter((t) => t.dims[2] === 1).map((t) => t.data as Float32Array);
    if (regs.length !== 2 || logits.length !== 2) throw new ModelError(`detector: unexpected outputs ${Object.values(out).map((t) => `[${t.dims}]`).join(' ')}`);
    return { regressors: concat(regs), logits: concat(logits) };
  }

  /** Faces in image pixels, best first. One call at a time: the input tensor is reused between frames. */
  async detect(frame: Frame): Promise<Face[]> {
    const region = this.preprocess(frame);
    const { regressors, logits } = await this.infer();
    if (logits.length * 2 !== this.anchors.length) throw new ModelError(`detector: model has ${logits.length} anchors, expected ${this.anchors.length / 2}`);
    const raw = decodeDetections(regressors, logits, this.anchors, this.inputSize, this.opts.scoreThreshold);
    return weightedNms(raw, this.opts.iouThreshold, Number.MAX_SAFE_INTEGER)
      .map((d) => toImageFace(d, region, frame.width, frame.height))
      .filter((f) => f.box.w >= this.opts.minFaceSize && f.box.h > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, this.opts.maxFaces);
  }

  async close(): Promise<void> {
    await closeSession(this.session);
    this.session = undefined;
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
