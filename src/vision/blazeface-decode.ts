/**
 * BlazeFace post-processing, as MediaPipe's SsdAnchorsCalculator + TensorsToDetectionsCalculator +
 * weighted non-max suppression configure it for the front (128 px) and back (256 px) models.
 */
import type { Box, Face, Keypoint } from '../core/types.js';
import { iou } from '../core/geometry.js';

export type BlazeFaceVariant = 'front' | 'back';

export interface AnchorOptions {
  inputSize: number;
  /** One entry per SSD layer; consecutive layers with the same stride share one feature map. */
  strides: number[];
}

/** MediaPipe face_detection_{front,back} anchor options (2 anchors per layer, fixed size, offset 0.5). */
export const ANCHOR_OPTIONS: Record<BlazeFaceVariant, AnchorOptions> = {
  front: { inputSize: 128, strides: [8, 16, 16, 16] },
  back: { inputSize: 256, strides: [16, 32, 32, 32] },
};

export const NUM_KEYPOINTS = 6;
const SCORE_CLIP = 100;

/** Anchor centres in [0, 1] (x, y interleaved); every anchor has width = height = 1 (fixed_anchor_size). */
export function generateAnchors(opts: AnchorOptions): Float32Array {
  const centres: number[] = [];
  let layer = 0;
  while (layer < opts.strides.length) {
    const stride = opts.strides[layer]!;
    let perCell = 0;
    while (layer < opts.strides.length && opts.strides[layer] === stride) {
      perCell += 2; // aspect ratio 1.0 plus the interpolated scale
      layer++;
    }
    const cells = Math.ceil(opts.inputSize / stride);
    for (let y = 0; y < cells; y++)
      for (let x = 0; x < cells; x++)
        for (let a = 0; a < perCell; a++) centres.push((x + 0.5) / cells, (y + 0.5) / cells);
  }
  return Float32Array.from(centres);
}

export interface RawDetection {
  /** Normalised [0, 1] in the model input square. */
  box: Box;
  keypoints: Keypoint[];
  score: number;
}

/**
 * Decodes regressors (N×16: x-centre, y-centre, w, h, then 6 keypoints x, y; in input pixels relative to the anchor)
 * and score logits (N) into normalised detections above `minScore`.
 */
export function decodeDetections(regressors: Float32Array, logits: Float32Array, anchors: Float32Array, inputSize: number, minScore: number): RawDetection[] {
  const n = logits.length;
  const out: RawDetection[] = [];
  const minLogit = Math.log(minScore / (1 - minScore));
  for (let i = 0; i < n; i++) {
    const logit = Math.min(Math.max(logits[i]!, -SCORE_CLIP), SCORE_CLIP);
    if (logit < minLogit) continue;
    const score = 1 / (1 + Math.exp(-logit));
    const r = i * 16;
    const ax = anchors[i * 2]!;
    const ay = anchors[i * 2 + 1]!;
    const cx = regressors[r]! / inputSize + ax;
    const cy = regressors[r + 1]! / inputSize + ay;
    const w = regressors[r + 2]! / inputSize;
    const h = regressors[r + 3]! / inputSize;
    const keypoints: Keypoint[] = [];
    for (let k = 0; k < NUM_KEYPOINTS; k++)
      keypoints.push({ x: regressors[r + 4 + k * 2]! / inputSize + ax, y: regressors[r + 5 + k * 2]! / inputSize + ay });
    out.push({ box: { x: cx - w / 2, y: cy - h / 2, w, h }, keypoints, score });
  }
  return out;
}

export { iou };

/**
 * MediaPipe's weighted NMS: the best remaining detection absorbs every other one overlapping it by more than
 * `iouThreshold`; box and keypoints become the score-weighted mean, the score stays the best one's.
 */
export function weightedNms(dets: RawDetection[], iouThreshold: number, maxFaces: number): RawDetection[] {
  const remaining = [...dets].sort((a, b) => b.score - a.score);
  const kept: RawDetection[] = [];
  while (remaining.length && kept.length < maxFaces) {
    const best = remaining[0]!;
    const group: RawDetection[] = [];
    const rest: RawDetection[] = [];
    for (const d of remaining) (iou(best.box, d.box) > iouThreshold ? group : rest).push(d);
    if (!group.includes(best)) group.push(best);
    const total = group.reduce((s, d) => s + d.score, 0);
    const avg = (f: (d: RawDetection) => number) => group.reduce((s, d) => s + f(d) * d.score, 0) / total;
    kept.push({
      box: { x: avg((d) => d.box.x), y: avg((d) => d.box.y), w: avg((d) => d.box.w), h: avg((d) => d.box.h) },
      keypoints: best.keypoints.map((_, k) => ({ x: avg((d) => d.keypoints[k]!.x), y: avg((d) => d.keypoints[k]!.y) })),
      score: best.score,
    });
    remaining.length = 0;
    remaining.push(...rest.filter((d) => d !== best));
  }
  return kept;
}

/** Normalised detection → image pixels, given the image region the model input square covered. */
export function toImageFace(d: RawDetection, region: Box, width: number, height: number): Face {
  const px = (x: number) => region.x + x * region.w;
  const py = (y: number) => region.y + y * region.h;
  const x0 = Math.max(0, px(d.box.x));
  const y0 = Math.max(0, py(d.box.y));
  const x1 = Math.min(width, px(d.box.x + d.box.w));
  const y1 = Math.min(height, py(d.box.y + d.box.h));
  return {
    box: { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) },
    score: d.score,
    keypoints: d.keypoints.map((k) => ({ x: px(k.x), y: py(k.y) })),
  };
}
