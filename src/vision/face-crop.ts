/**
 * The one face-crop path, used by training, evaluation, int8 calibration, `classify`, `predict` and the daemon alike:
 * a decoded picture + a face box + the model's margin → the classifier's input, x/127.5 − 1, NHWC.
 * The region is a square of side max(w, h)·(1 + 2·margin) centred on the box, in whole pixels, clipped at the picture's
 * edges (so it may be less than square there); it is resampled with antialiasing (src/vision/resample.ts).
 */
import { clippedSquare } from '../core/geometry.js';
import type { RgbImage } from '../core/image.js';
import type { Box } from '../core/types.js';
import { resampleInto, TO_PLUS_MINUS_ONE, wholeImage, type ResampleOptions } from './resample.js';

export const FACE_CROP_RESAMPLE: ResampleOptions = { norm: TO_PLUS_MINUS_ONE, antialias: true };

/** The picture region the classifier sees for a face box. */
export function faceCropRegion(box: Box, image: { width: number; height: number }, margin: number): Box {
  const side = Math.max(box.w, box.h) * (1 + 2 * margin);
  return clippedSquare(box.x + box.w / 2, box.y + box.h / 2, side, image.width, image.height);
}

/** What a crop is cut from: a picture and the region of it that becomes the model input. */
export interface FaceView {
  image: RgbImage;
  region: Box;
}

/** The view of a face box in a picture; a null box means the whole picture is the face. */
export function faceView(image: RgbImage, box: Box | null, margin: number): FaceView {
  return { image, region: box ? faceCropRegion(box, image, margin) : wholeImage(image) };
}

/** Writes one size×size×3 model input at `offset` of `out`. */
export function writeFaceInput(view: FaceView, size: number, out: Float32Array, offset = 0): void {
  resampleInto(view.image, view.region, size, size, FACE_CROP_RESAMPLE, out, offset);
}

/** One model input per view in a new [views.length, size, size, 3] tensor. */
export function faceInputs(views: FaceView[], size: number): Float32Array {
  const per = size * size * 3;
  const out = new Float32Array(views.length * per);
  views.forEach((v, i) => writeFaceInput(v, size, out, i * per));
  return out;
}
