import sharp from 'sharp';
import { rawInput, rgbBuffer, type RgbImage } from '../../core/image.js';
import type { Box } from '../../core/types.js';

/** A square in image pixels (may reach outside the picture). */
export interface Square {
  cx: number;
  cy: number;
  side: number;
}

/** Cuts a square (edges outside the picture repeat its border pixels) and scales it to size×size RGB. */
export async function cropSquare(img: RgbImage, sq: Square, size: number): Promise<Buffer> {
  const left = Math.round(sq.cx - sq.side / 2);
  const top = Math.round(sq.cy - sq.side / 2);
  const side = Math.max(1, Math.round(sq.side));
  const x0 = Math.max(0, Math.min(img.width - 1, left));
  const y0 = Math.max(0, Math.min(img.height - 1, top));
  const x1 = Math.max(x0 + 1, Math.min(img.width, left + side));
  const y1 = Math.max(y0 + 1, Math.min(img.height, top + side));
  const cut = await sharp(rgbBuffer(img), rawInput(img))
    .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
    .extend({
      left: Math.max(0, x0 - left),
      top: Math.max(0, y0 - top),
      right: Math.max(0, left + side - x1),
      bottom: Math.max(0, top + side - y1),
      extendWith: 'copy',
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(cut.data, { raw: { width: cut.info.width, height: cut.info.height, channels: 3 } })
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer();
}

/** Cuts a box out of the picture and scales it so its longer side is at most maxSide. */
export async function cropBox(img: RgbImage, box: Box, maxSide: number): Promise<RgbImage & { scale: number }> {
  const scale = Math.min(1, maxSide / Math.max(box.w, box.h));
  const width = Math.max(1, Math.round(box.w * scale));
  const height = Math.max(1, Math.round(box.h * scale));
  let pipeline = sharp(rgbBuffer(img), rawInput(img)).extract({ left: box.x, top: box.y, width: box.w, height: box.h });
  if (scale < 1) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  const data = await pipeline.raw().toBuffer();
  return { width: scale < 1 ? width : box.w, height: scale < 1 ? height : box.h, rgb: data, scale };
}

/**
 * Like cropSquare, but the square is turned by `degrees` (clockwise in the picture) first, so a tilted face comes out
 * upright: the picture is cut at √2 × the side (border pixels repeated), rotated about the centre, and the middle
 * size×size taken. A point (u, v) of the result lies at centre + R(−degrees)·((u, v) − size/2)·side/size.
 */
export async function cropSquareTurned(img: RgbImage, sq: Square, degrees: number, size: number): Promise<Buffer> {
  if (Math.abs(degrees) < 0.5) return cropSquare(img, sq, size);
  const wide = Math.ceil(size * Math.SQRT2) + 2;
  const padded = await cropSquare(img, { cx: sq.cx, cy: sq.cy, side: (sq.side * wide) / size }, wide);
  const turned = await sharp(padded, { raw: { width: wide, height: wide, channels: 3 } })
    .rotate(degrees, { background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const left = Math.round((turned.info.width - size) / 2);
  const top = Math.round((turned.info.height - size) / 2);
  return sharp(turned.data, { raw: { width: turned.info.width, height: turned.info.height, channels: 3 } })
    .extract({ left, top, width: size, height: size })
    .raw()
    .toBuffer();
}
