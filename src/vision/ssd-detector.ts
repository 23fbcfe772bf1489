/**
 * The AIZOO face-mask SSD on ONNX Runtime as a FaceDetector: it finds masked faces as well as bare ones
 * (BlazeFace, trained on bare faces, misses most masked ones). The whole frame is resized to the input size
 * (stretched if the aspect ratios differ, as the published code does), /255, NCHW; decode, greedy NMS, back
 * to image pixels. Faces carry the SSD's own Mask / NoMask scores and no keypoints.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as Ort from 'onnxruntime-common';
import type { FaceDetector } from '../core/seams.js';
import type { Face, Frame } from '../core/types.js';
import { ModelError } from '../core/errors.js';
import { REPO_ROOT } from '../core/paths.js';
import { padQuantizedStemChannels } from '../onnx/pad-stem-channels.js';
import { closeSession, loadOrt, openSession, ortBackend, type OrtBackend } from '../onnx/session.js';
import { resampleInto, TO_UNIT, wholeImage } from './resample.js';
import { decodeSsd, dropNested, generateSsdAnchors, greedyNms, ssdFeatureMaps, type SsdAnchorOptions, type SsdDetection } from './ssd-decode.js';

export const SSD_MODEL_NAME = 'aizoo-face-mask-ssd';
export const SSD_LOC_OUTPUT = 'loc_branch_concat';
export const SSD_CLS_OUTPUT = 'cls_branch_concat';

export interface SsdDetectorOptions {
  /** Model input size in pixels; any size ≥ 129 (the model's input height and width are symbolic). */
  inputWidth: number;
  inputHeight: number;
  scoreThreshold: number;
  /** Greedy NMS IoU; the published code uses 0.4. */
  iouThreshold: number;
  /** Faces narrower than this (image pixels) are dropped. */
  minFaceSize: number;
  maxFaces: number;
  /** Antialiased downscale instead of plain bilinear (OpenCV's INTER_LINEAR, what the published code feeds it). */
  antialias?: boolean;
  /** See SsdAnchorOptions: where anchor centres sit and what their sizes are fractions of; unset = as published. */
  anchorGrid?: SsdAnchorOptions['grid'];
  anchorPixels?: number;
  /** Hand-drawn box convention (see BoxCalibration); none by default. */
  boxCalibration?: BoxCalibration;
  /** Defaults to models/aizoo-face-mask-ssd/aizoo-face-mask-ssd.onnx. */
  modelFile?: string;
  intraOpNumThreads?: number;
  allowSpinning?: boolean;
  /**
   * An int8 file's 3-channel stem read as 4 channels (a zero channel fed with the picture; same outputs), so ONNX
   * Runtime runs its fast int8 convolution there (src/onnx/pad-stem-channels.ts). Unset: where that kernel exists for
   * it (padsInt8Stem).
   */
  padInt8Stem?: boolean;
}

/**
 * Where a 4-channel int8 stem runs ONNX Runtime's fast kernel: its native x64 build (every x64 int8 convolution kernel
 * takes input channels in fours). Its arm64 build runs convolutions with fewer than 64 input channels on the generic
 * path either way, where a fourth channel would only add work, and the WebAssembly build has no such kernel.
 */
export function padsInt8Stem(backend: OrtBackend, arch: string = process.arch): boolean {
  return backend === 'native' && arch === 'x64';
}

/** The box calibration `npm run models:convert` fits, or none when it has not. */
export function shippedBoxCalibration(): BoxCalibration {
  const file = path.join(REPO_ROOT, 'models', SSD_MODEL_NAME, 'box-calibration.json');
  if (!fs.existsSync(file)) return NO_CALIBRATION;
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<BoxCalibration>;
  const ok = (v: unknown, lo: number, hi: number) => typeof v === 'number' && v >= lo && v <= hi;
  if (!ok(c.dx, -0.5, 0.5) || !ok(c.dy, -0.5, 0.5) || !ok(c.rw, 0.5, 2) || !ok(c.rh, 0.5, 2)) throw new ModelError(`${file}: not a box calibration (dx, dy within ±0.5, rw, rh within 0.5..2)`);
  return { dx: c.dx!, dy: c.dy!, rw: c.rw!, rh: c.rh! };
}

/** The shipped SSD file: float, or the int8 copy `npm run models:convert` makes. */
export function ssdModelFile(precision: 'float' | 'int8' = 'float'): string {
  return path.join(REPO_ROOT, 'models', SSD_MODEL_NAME, `${SSD_MODEL_NAME}${precision === 'int8' ? '.int8' : ''}.onnx`);
}

export class SsdFaceDetector implements FaceDetector {
  private session: Ort.InferenceSession | undefined;
  private ort: typeof Ort | undefined;
  private anchors: Float32Array | undefined;
  private input: Float32Array | undefined;
  private channels = 3;

  constructor(private readonly opts: SsdDetectorOptions) {}

  /** The larger input side (the seam's single number); see inputWidth / inputHeight. */
  get inputSize(): number {
    return Math.max(this.opts.inputWidth, this.opts.inputHeight);
  }

  /** The model input's channel count: 3, or 4 where the int8 stem is padded (the fourth plane stays zero). */
  get inputChannels(): number {
    return this.channels;
  }

  async start(): Promise<void> {
    const { inputWidth: w, inputHeight: h } = this.opts;
    try {
      ssdFeatureMaps(h, w);
    } catch (err) {
      throw new ModelError(`ssd detector: input ${w}×${h}: ${(err as Error).message}`);
    }
    this.anchors = generateSsdAnchors(h, w, { grid: this.opts.anchorGrid, anchorPixels: this.opts.anchorPixels });
    this.ort = await loadOrt();
    const file = this.opts.modelFile ?? ssdModelFile();
    const padded = (this.opts.padInt8Stem ?? padsInt8Stem(await ortBackend())) && fs.existsSync(file) ? padQuantizedStemChannels(fs.readFileSync(file)) : null;
    const sessionOptions = { intraOpNumThreads: this.opts.intraOpNumThreads ?? 1, allowSpinning: this.opts.allowSpinning };
    let session: Ort.InferenceSession | undefined;
    this.channels = 3;
    if (padded) {
      try {
        session = await openSession(padded.model, sessionOptions);
        this.channels = padded.channels;
      } catch {
        // reported below as the file it came from
      }
    }
    session ??= await openSession(file, sessionOptions);
    const meta = session.inputMetadata[0];
    const dims = meta?.isTensor ? meta.shape : undefined;
    const fits = (d: unknown, want: number) => typeof d !== 'number' || d === want;
    const outs = session.outputNames;
    if (!dims || dims.length !== 4 || !fits(dims[1], this.channels) || !fits(dims[2], h) || !fits(dims[3], w) || !outs.includes(SSD_LOC_OUTPUT) || !outs.includes(SSD_CLS_OUTPUT)) {
      await session.release();
      throw new ModelError(`ssd detector ${file}: input [${dims}] and outputs [${outs}] do not fit an SSD with NCHW input 1×3×${h}×${w} and outputs ${SSD_LOC_OUTPUT}, ${SSD_CLS_OUTPUT}`);
    }
    this.input = new Float32Array(this.channels * w * h);
    this.session = session;
  }

  /** Resizes the frame into the input tensor. */
  preprocess(frame: Pick<Frame, 'width' | 'height' | 'rgb'>): void {
    if (!this.input) throw new Error('SsdFaceDetector: start() was not called');
    resampleInto(frame, wholeImage(frame), this.opts.inputWidth, this.opts.inputHeight, { norm: TO_UNIT, antialias: this.opts.antialias ?? false, layout: 'nchw' }, this.input);
  }

  /** The bare model run on the current input tensor. */
  async infer(): Promise<{ loc: Float32Array; cls: Float32Array }> {
    if (!this.session || !this.ort || !this.input) throw new Error('SsdFaceDetector: start() was not called');
    const feeds = { [this.session.inputNames[0]!]: new this.ort.Tensor('float32', this.input, [1, this.channels, this.opts.inputHeight, this.opts.inputWidth]) };
    const out = await this.session.run(feeds);
    return { loc: out[SSD_LOC_OUTPUT]!.data as Float32Array, cls: out[SSD_CLS_OUTPUT]!.data as Float32Array };
  }

  /** Detections relative to the frame, after NMS and without boxes inside better ones, best first (before the size and count limits). */
  async detectRelative(frame: Pick<Frame, 'width' | 'height' | 'rgb'>): Promise<SsdDetection[]> {
    this.preprocess(frame);
    const { loc, cls } = await this.infer();
    if (loc.length !== this.anchors!.length) throw new ModelError(`ssd detector: model gives ${loc.length / 4} boxes for a ${this.opts.inputWidth}×${this.opts.inputHeight} input, the anchors expect ${this.anchors!.length / 4}`);
    return dropNested(greedyNms(decodeSsd(loc, cls, this.anchors!, this.opts.scoreThreshold), this.opts.iouThreshold));
  }

  /** Faces in image pixels, best first. One call at a time: the input tensor is reused between frames. */
  async detect(frame: Frame): Promise<Face[]> {
    const dets = await this.detectRelative(frame);
    return dets
      .map((d) => toImageFace(d, frame.width, frame.height, this.opts.boxCalibration))
      .filter((f) => f.box.w >= this.opts.minFaceSize && f.box.h > 0)
      .slice(0, this.opts.maxFaces);
  }

  async close(): Promise<void> {
    await closeSession(this.session);
    this.session = undefined;
  }
}

/**
 * Where the SSD puts a face box against where people draw it (fitted on training photos, models/<ssd>/box-calibration.json):
 * the hand-drawn box's centre is the detection's minus dx·w (dy·h), its size the detection's divided by rw (rh). The SSD's
 * boxes sit about 0.13 face heights high and 13 % too tall; corrected, the face crop holds the chin, where a mask worn
 * wrongly shows.
 */
export interface BoxCalibration {
  dx: number;
  dy: number;
  rw: number;
  rh: number;
}
export const NO_CALIBRATION: BoxCalibration = { dx: 0, dy: 0, rw: 1, rh: 1 };

/** A detection relative to the whole frame → a Face in image pixels, calibrated, clipped to the frame. */
export function toImageFace(d: SsdDetection, width: number, height: number, cal: BoxCalibration = NO_CALIBRATION): Face {
  const w = (d.box.w * width) / cal.rw;
  const h = (d.box.h * height) / cal.rh;
  const cx = (d.box.x + d.box.w / 2) * width - cal.dx * w;
  const cy = (d.box.y + d.box.h / 2) * height - cal.dy * h;
  const x0 = Math.max(0, cx - w / 2);
  const y0 = Math.max(0, cy - h / 2);
  const x1 = Math.min(width, cx + w / 2);
  const y1 = Math.min(height, cy + h / 2);
  return {
    box: { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) },
    score: d.score,
    keypoints: [],
    detectorScores: { mask: d.classScores[0], noMask: d.classScores[1] },
  };
}
