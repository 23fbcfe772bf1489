import type { Box } from '../../core/types.js';
import type { RgbImage } from '../../core/image.js';
import { cropSquare, cropSquareTurned, type Square } from './image.js';
import { FACEMESH_INPUT, FACEMESH_POINTS, type Landmarker } from './landmarker.js';

/** A face whose 468 FaceMesh points are known in picture pixels. */
export interface FittedFace {
  /** 468 × (x, y, z) in picture pixels (z in FaceMesh's crop units, scaled alike). */
  points: Float32Array;
  faceScore: number;
  /** The landmarks' extent. */
  box: Box;
}

export type FitResult = { ok: true; face: FittedFace } | { ok: false; reason: string };

export interface FitOptions {
  /** Lowest FaceMesh face score accepted. */
  minFaceScore: number;
  /** Smallest landmark extent (its shorter side) in picture pixels. */
  minFacePx: number;
}

/** MediaPipe crops the landmark model's input at 1.5 × the face's extent. */
const CROP_SCALE = 1.5;
const REFINE_PASSES = 4;

export function point(points: Float32Array, i: number): { x: number; y: number } {
  return { x: points[i * 3], y: points[i * 3 + 1] };
}

function extent(points: Float32Array): Box {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < FACEMESH_POINTS; i++) {
    const x = points[i * 3], y = points[i * 3 + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Where to look first: a face region (VOC box) or a whole picture that is mostly one face. */
function firstSquares(img: RgbImage, region: Box | null): Square[] {
  if (region) {
    const side = Math.max(region.w, region.h) * CROP_SCALE;
    return [{ cx: region.x + region.w / 2, cy: region.y + region.h / 2, side }];
  }
  const { width: w, height: h } = img;
  const squares: Square[] = [
    { cx: w / 2, cy: h / 2, side: Math.max(w, h) * 1.1 },
    { cx: w / 2, cy: h / 2, side: Math.min(w, h) },
  ];
  if (h > w * 1.15) squares.push({ cx: w / 2, cy: w / 2, side: w }, { cx: w / 2, cy: w * 0.45, side: w * 0.7 });
  if (w > h * 1.15) squares.push({ cx: w / 2, cy: h * 0.45, side: h * 0.7 });
  return squares;
}

/** Crop points back to the picture; `degrees` is the turn cropSquareTurned applied (0 for cropSquare). */
function toPicture(mesh: Float32Array, sq: Square, degrees = 0): Float32Array {
  const k = sq.side / FACEMESH_INPUT;
  const half = FACEMESH_INPUT / 2;
  const a = (-degrees * Math.PI) / 180;
  const cos = Math.cos(a), sin = Math.sin(a);
  // cropSquare starts at the rounded corner; a turned crop is centred on the square's centre.
  const cx = degrees === 0 ? Math.round(sq.cx - sq.side / 2) + sq.side / 2 : sq.cx;
  const cy = degrees === 0 ? Math.round(sq.cy - sq.side / 2) + sq.side / 2 : sq.cy;
  const out = new Float32Array(FACEMESH_POINTS * 3);
  for (let i = 0; i < FACEMESH_POINTS; i++) {
    const u = (mesh[i * 3] - half) * k, v = (mesh[i * 3 + 1] - half) * k;
    out[i * 3] = cx + u * cos - v * sin;
    out[i * 3 + 1] = cy + u * sin + v * cos;
    out[i * 3 + 2] = mesh[i * 3 + 2] * k;
  }
  return out;
}

/** The face's roll in degrees (clockwise positive), from the outer eye corners. */
function rollDegrees(points: Float32Array): number {
  const r = point(points, 33), l = point(points, 263);
  return (Math.atan2(l.y - r.y, l.x - r.x) * 180) / Math.PI;
}

/** Below this roll FaceMesh does fine on an unturned crop (and skipping the turn keeps pixels unresampled). */
const TURN_FROM_DEGREES = 4;

/** Why a set of landmarks cannot be a face the right way up, or null when it can. */
export function degenerateReason(points: Float32Array): string | null {
  for (let i = 0; i < FACEMESH_POINTS * 3; i++) if (!Number.isFinite(points[i])) return 'landmarks not finite';
  const top = point(points, 10), chin = point(points, 152), nose = point(points, 1), lip = point(points, 13);
  const eyeR = point(points, 33), eyeL = point(points, 263);
  const dx = chin.x - top.x, dy = chin.y - top.y;
  const height = Math.hypot(dx, dy);
  if (height < 1) return 'landmarks collapsed';
  const along = (p: { x: number; y: number }) => ((p.x - top.x) * dx + (p.y - top.y) * dy) / height;
  if (!(along(nose) > 0.3 * height && along(lip) > along(nose) && along(chin) > along(lip))) return 'landmarks out of order';
  const eyeGap = Math.hypot(eyeL.x - eyeR.x, eyeL.y - eyeR.y);
  if (eyeGap < 0.2 * height) return 'eyes too close (profile or bad fit)';
  // Roll beyond ~60° is not a face a camera at a door sees upright; FaceMesh output there is unreliable.
  if (dy < 0.5 * height) return 'face tilted more than 60°';
  const box = extent(points);
  if (box.w / box.h < 0.4 || box.w / box.h > 2) return 'landmark extent has an implausible shape';
  return null;
}

/**
 * Runs FaceMesh on candidate squares, keeps the best, then re-crops around its landmarks (as MediaPipe tracks)
 * until the fit settles. Rejects low face scores, tiny faces and degenerate landmark sets.
 */
export async function fitFace(img: RgbImage, region: Box | null, landmarker: Landmarker, opts: FitOptions): Promise<FitResult> {
  const squares = firstSquares(img, region);
  const crops = await Promise.all(squares.map((sq) => cropSquare(img, sq, FACEMESH_INPUT)));
  const results = await landmarker.landmarks(crops);
  let best = 0;
  results.forEach((r, i) => {
    if (r.faceScore > results[best].faceScore) best = i;
  });
  let points = toPicture(results[best].mesh, squares[best]);
  let score = results[best].faceScore;
  for (let pass = 0; pass < REFINE_PASSES; pass++) {
    const box = extent(points);
    const sq = { cx: box.x + box.w / 2, cy: box.y + box.h / 2, side: Math.max(box.w, box.h) * CROP_SCALE };
    if (sq.side < 8) break;
    const roll = rollDegrees(points);
    const turn = Math.abs(roll) >= TURN_FROM_DEGREES ? -roll : 0;
    const crop = turn ? await cropSquareTurned(img, sq, turn, FACEMESH_INPUT) : await cropSquare(img, sq, FACEMESH_INPUT);
    const [again] = await landmarker.landmarks([crop]);
    // Keep the re-crop unless it loses a face the first look had (scores near 1 saturate; compare to the bar).
    if (again.faceScore < score && again.faceScore < opts.minFaceScore) break;
    points = toPicture(again.mesh, sq, turn);
    score = again.faceScore;
  }
  if (score < opts.minFaceScore) return { ok: false, reason: `no face found (FaceMesh face score ${score.toFixed(2)})` };
  const bad = degenerateReason(points);
  if (bad) return { ok: false, reason: bad };
  const box = extent(points);
  if (Math.min(box.w, box.h) < opts.minFacePx) return { ok: false, reason: `face too small (${Math.round(Math.min(box.w, box.h))} px)` };
  return { ok: true, face: { points, faceScore: score, box } };
}
