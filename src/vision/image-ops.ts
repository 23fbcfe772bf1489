/**
 * Per-frame image work on raw RGB buffers, without a round trip through sharp:
 * crop a region (which may extend past the image; outside is black) and resize it bilinearly
 * straight into a normalised float NHWC tensor slot.
 */
import type { Box } from '../core/types.js';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel, row-major. */
  rgb: Uint8Array;
}

/** value = byte * scale + offset; e.g. [-1, 1] is {scale: 1/127.5, offset: -1}. */
export interface Normalization {
  scale: number;
  offset: number;
}
export const TO_PLUS_MINUS_ONE: Normalization = { scale: 1 / 127.5, offset: -1 };
export const TO_UNIT: Normalization = { scale: 1 / 255, offset: 0 };

/**
 * Samples `region` (image pixels, any size, may lie partly outside) into an outW×outH block of `out`
 * starting at `outOffset`, bilinear, pixel centres aligned (like tf.image.resizeBilinear with half-pixel centres).
 */
export function cropResize(img: RgbImage, region: Box, outW: number, outH: number, norm: Normalization, out: Float32Array, outOffset = 0): void {
  const { width, height, rgb } = img;
  const sx = region.w / outW;
  const sy = region.h / outH;
  const { scale, offset } = norm;
  const black = offset;
  const xs0 = new Int32Array(outW);
  const xs1 = new Int32Array(outW);
  const fxs = new Float32Array(outW);
  const xValid = new Uint8Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = region.x + (x + 0.5) * sx - 0.5;
    const inside = fx > -1 && fx < width;
    xValid[x] = inside ? 1 : 0;
    const cx = Math.min(Math.max(fx, 0), width - 1);
    const x0 = Math.floor(cx);
    xs0[x] = x0 * 3;
    xs1[x] = Math.min(x0 + 1, width - 1) * 3;
    fxs[x] = cx - x0;
  }
  let o = outOffset;
  for (let y = 0; y < outH; y++) {
    const fy = region.y + (y + 0.5) * sy - 0.5;
    if (!(fy > -1 && fy < height)) {
      out.fill(black, o, o + outW * 3);
      o += outW * 3;
      continue;
    }
    const cy = Math.min(Math.max(fy, 0), height - 1);
    const y0 = Math.floor(cy);
    const wy = cy - y0;
    const row0 = y0 * width * 3;
    const row1 = Math.min(y0 + 1, height - 1) * width * 3;
    for (let x = 0; x < outW; x++) {
      if (!xValid[x]) {
        out[o++] = black;
        out[o++] = black;
        out[o++] = black;
        continue;
      }
      const a = row0 + xs0[x]!;
      const b = row0 + xs1[x]!;
      const c = row1 + xs0[x]!;
      const d = row1 + xs1[x]!;
      const wx = fxs[x]!;
      // Weights of the four neighbours, the channel loop unrolled: this is on the per-frame path.
      const w11 = wx * wy;
      const w01 = wx - w11;
      const w10 = wy - w11;
      const w00 = 1 - wx - wy + w11;
      out[o++] = (rgb[a]! * w00 + rgb[b]! * w01 + rgb[c]! * w10 + rgb[d]! * w11) * scale + offset;
      out[o++] = (rgb[a + 1]! * w00 + rgb[b + 1]! * w01 + rgb[c + 1]! * w10 + rgb[d + 1]! * w11) * scale + offset;
      out[o++] = (rgb[a + 2]! * w00 + rgb[b + 2]! * w01 + rgb[c + 2]! * w10 + rgb[d + 2]! * w11) * scale + offset;
    }
  }
}

/** The square that letterboxes a width×height image (centred, padding on the short side). */
export function letterboxRegion(width: number, height: number): Box {
  const side = Math.max(width, height);
  return { x: (width - side) / 2, y: (height - side) / 2, w: side, h: side };
}

/** A square region centred on `box`, `margin` × its larger side added on every side. */
export function squareAround(box: Box, margin: number): Box {
  const side = Math.max(box.w, box.h) * (1 + 2 * margin);
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  return { x: cx - side / 2, y: cy - side / 2, w: side, h: side };
}
