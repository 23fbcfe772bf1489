import sharp from 'sharp';
import type { Box } from '../../core/types.js';

/** A decoded picture: RGB, 3 bytes per pixel, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Buffer;
}

/** A square in image pixels (may reach outside the picture). */
export interface Square {
  cx: number;
  cy: number;
  side: number;
}

export async function decodeImage(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { width: info.width, height: info.height, data };
  const rgb = Buffer.alloc(info.width * info.height * 3);
  for (let i = 0; i < info.width * info.height; i++) {
    const v = data[i * info.channels];
    rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = v;
  }
  return { width: info.width, height: info.height, data: rgb };
}

function rawInput(img: RgbImage) {
  return { raw: { width: img.width, height: img.height, channels: 3 as const } };
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
  const cut = await sharp(img.data, rawInput(img))
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

/**
 * The trainer's crop of a face: a square around the box, each side grown by margin × the box's longer side,
 * clipped to the picture (so a face at the border gives a narrower crop, as a real detection would).
 */
export function marginCrop(box: Box, margin: number, width: number, height: number): Box {
  const side = Math.max(box.w, box.h) * (1 + 2 * margin);
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  const x0 = Math.max(0, Math.round(cx - side / 2));
  const y0 = Math.max(0, Math.round(cy - side / 2));
  const x1 = Math.min(width, Math.round(cx + side / 2));
  const y1 = Math.min(height, Math.round(cy + side / 2));
  return { x: x0, y: y0, w: Math.max(1, x1 - x0), h: Math.max(1, y1 - y0) };
}

/** Cuts a box out of the picture and scales it so its longer side is at most maxSide. */
export async function cropBox(img: RgbImage, box: Box, maxSide: number): Promise<RgbImage & { scale: number }> {
  const scale = Math.min(1, maxSide / Math.max(box.w, box.h));
  const width = Math.max(1, Math.round(box.w * scale));
  const height = Math.max(1, Math.round(box.h * scale));
  let pipeline = sharp(img.data, rawInput(img)).extract({ left: box.x, top: box.y, width: box.w, height: box.h });
  if (scale < 1) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  const data = await pipeline.raw().toBuffer();
  return { width: scale < 1 ? width : box.w, height: scale < 1 ? height : box.h, data, scale };
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
