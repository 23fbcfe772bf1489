/**
 * The classifier's view of a face: the same margin square the training crops use (src/training/crop.ts
 * marginSquare: side max(w, h)·(1 + 2·margin), centred on the box, clipped at the picture's edges), resized
 * bilinearly to the model input and normalised x/127.5 − 1, written straight into a batch tensor.
 */
import type { Box } from '../core/types.js';
import { marginSquare } from '../workflows/train/crop.js';
import { cropResize, TO_PLUS_MINUS_ONE, type RgbImage } from './image-ops.js';

/** The image region the classifier sees for a face box. */
export function faceCropRegion(box: Box, image: { width: number; height: number }, margin: number): Box {
  const r = marginSquare(box, image.width, image.height, margin);
  return { x: r.left, y: r.top, w: r.width, h: r.height };
}

/** Writes one size×size×3 crop per box into a new [boxes.length, size, size, 3] float tensor. */
export function cropFacesToTensor(image: RgbImage, boxes: Box[], size: number, margin: number): Float32Array {
  const per = size * size * 3;
  const out = new Float32Array(boxes.length * per);
  boxes.forEach((box, i) => cropResize(image, faceCropRegion(box, image, margin), size, size, TO_PLUS_MINUS_ONE, out, i * per));
  return out;
}

/** Whole images (each already a face crop) resized to size×size into one batch tensor. */
export function imagesToTensor(images: RgbImage[], size: number): Float32Array {
  const per = size * size * 3;
  const out = new Float32Array(images.length * per);
  images.forEach((img, i) => cropResize(img, { x: 0, y: 0, w: img.width, h: img.height }, size, size, TO_PLUS_MINUS_ONE, out, i * per));
  return out;
}
