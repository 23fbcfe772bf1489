import sharp from 'sharp';
import type { Box } from '../../core/types.js';

/** A decoded picture: RGB, 3 bytes per pixel, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Buffer;
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export async function decodeRgb(input: string | Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { width: info.width, height: info.height, rgb: data };
}

/**
 * The crop the classifier sees for a face box: a square of side max(w, h) · (1 + 2·margin)
 * centred on the box, clipped at the picture's edges (so it may be less than square there).
 */
export function marginSquare(box: Box, imageWidth: number, imageHeight: number, margin: number): Rect {
  const side = Math.max(box.w, box.h) * (1 + 2 * margin);
  return clipRect(box.x + box.w / 2, box.y + box.h / 2, side, imageWidth, imageHeight);
}

/** A side×side square centred on (cx, cy), clipped to the picture; at least 1×1 px. */
export function clipRect(cx: number, cy: number, side: number, imageWidth: number, imageHeight: number): Rect {
  const left = Math.max(0, Math.min(imageWidth - 1, Math.round(cx - side / 2)));
  const top = Math.max(0, Math.min(imageHeight - 1, Math.round(cy - side / 2)));
  const right = Math.max(left + 1, Math.min(imageWidth, Math.round(cx + side / 2)));
  const bottom = Math.max(top + 1, Math.min(imageHeight, Math.round(cy + side / 2)));
  return { left, top, width: right - left, height: bottom - top };
}

/** Cuts a rectangle out of a picture and resizes it to size×size RGB bytes. */
export async function cropResize(image: RgbImage, rect: Rect, size: number): Promise<Buffer> {
  return sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract(rect)
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer();
}

/** RGB bytes to the MobileNetV2 input range: x/127.5 − 1, written into `out` at `offset`. */
export function normaliseInto(rgb: Uint8Array, out: Float32Array, offset: number): void {
  for (let i = 0; i < rgb.length; i++) out[offset + i] = rgb[i] / 127.5 - 1;
}
