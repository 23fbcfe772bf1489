/**
 * MediaPipe FaceMesh on ONNX Runtime: 468 landmarks on a face crop.
 * Usage: `const lm = new FaceLandmarker(); await lm.start(); const r = await lm.run(crop); await lm.stop();`
 * `crop` is an RGB image of the face (a square crop around a detected box with ~25 % margin works best);
 * points come back in that crop's pixels.
 */
import path from 'node:path';
import type * as Ort from 'onnxruntime-common';
import type { Box } from '../core/types.js';
import type { RgbImage } from '../core/image.js';
import { resampleInto, TO_UNIT, wholeImage } from './resample.js';
import { REPO_ROOT } from '../core/paths.js';
import { closeSession, loadOrt, openSession, type SessionOptions } from '../onnx/session.js';

export const FACEMESH_MODEL = path.join(REPO_ROOT, 'models/facemesh/facemesh.onnx');
export const FACEMESH_INPUT = 192;
export const FACEMESH_POINTS = 468;

export interface FaceLandmarks {
  /** 468 points [x, y, z] in the crop's pixels (z in the same scale as x, relative depth). */
  points: Array<[number, number, number]>;
  /** FaceMesh's face-presence score, 0..1 (a sigmoid). Low means the crop holds no face. */
  faceScore: number;
}

/** Some well-known FaceMesh landmark indices (canonical face mesh numbering). */
export const LANDMARK = {
  noseTip: 1,
  noseBridge: 168,
  upperLip: 13,
  lowerLip: 14,
  mouthLeft: 291,
  mouthRight: 61,
  chin: 152,
  leftEyeOuter: 263,
  rightEyeOuter: 33,
  leftCheek: 454,
  rightCheek: 234,
  foreheadTop: 10,
} as const;

export class FaceLandmarker {
  private session: Ort.InferenceSession | undefined;
  private ort: typeof Ort | undefined;

  constructor(
    private readonly modelFile = FACEMESH_MODEL,
    private readonly sessionOptions: SessionOptions = {},
  ) {}

  async start(): Promise<void> {
    this.ort = await loadOrt();
    this.session = await openSession(this.modelFile, this.sessionOptions);
  }

  /** Landmarks for whole images (each one a face crop), batched in one run. */
  async runBatch(crops: RgbImage[]): Promise<FaceLandmarks[]> {
    return this.runRegions(crops.map((c) => ({ image: c, region: wholeImage(c) })));
  }

  async run(crop: RgbImage): Promise<FaceLandmarks> {
    return (await this.runBatch([crop]))[0]!;
  }

  /** Landmarks for regions of bigger images; points are relative to each region's top-left, in image pixels. */
  async runRegions(items: Array<{ image: RgbImage; region: Box }>): Promise<FaceLandmarks[]> {
    if (!this.session || !this.ort) throw new Error('FaceLandmarker: start() was not called');
    if (!items.length) return [];
    const size = FACEMESH_INPUT * FACEMESH_INPUT * 3;
    const input = new Float32Array(items.length * size);
    items.forEach((it, i) => resampleInto(it.image, it.region, FACEMESH_INPUT, FACEMESH_INPUT, { norm: TO_UNIT, antialias: false }, input, i * size));
    const feeds = { [this.session.inputNames[0]!]: new this.ort.Tensor('float32', input, [items.length, FACEMESH_INPUT, FACEMESH_INPUT, 3]) };
    const out = await this.session.run(feeds);
    const mesh = findOutput(out, FACEMESH_POINTS * 3);
    const flag = findOutput(out, 1);
    return items.map((it, i) => {
      const sx = it.region.w / FACEMESH_INPUT;
      const sy = it.region.h / FACEMESH_INPUT;
      const points: Array<[number, number, number]> = [];
      const base = i * FACEMESH_POINTS * 3;
      for (let p = 0; p < FACEMESH_POINTS; p++)
        points.push([mesh[base + p * 3]! * sx, mesh[base + p * 3 + 1]! * sy, mesh[base + p * 3 + 2]! * sx]);
      return { points, faceScore: flag[i]! };
    });
  }

  async stop(): Promise<void> {
    await closeSession(this.session);
    this.session = undefined;
  }
}

function findOutput(out: Ort.InferenceSession.ReturnType, perItem: number): Float32Array {
  for (const v of Object.values(out)) if (v.dims[v.dims.length - 1] === perItem) return v.data as Float32Array;
  throw new Error(`facemesh: no output with ${perItem} values per face`);
}
