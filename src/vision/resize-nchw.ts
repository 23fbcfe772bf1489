/**
 * Whole-image resizes straight into a normalised float NCHW tensor, for models that take channels first.
 * 'bilinear' samples like OpenCV's INTER_LINEAR (pixel centres aligned, no antialiasing; via cropResize);
 * 'area' averages every source pixel an output pixel covers (OpenCV's INTER_AREA on a downscale), which
 * antialiases: fine detail is averaged instead of skipped.
 */
import { cropResize, type Normalization, type RgbImage } from './image-ops.js';

export type ResizeMode = 'bilinear' | 'area';

/** Scratch buffers reused between frames of the same size. */
export class NchwResizer {
  private nhwc = new Float32Array(0);
  private rows = new Float32Array(0);
  private taps = new Map<string, AreaTaps>();

  /** Resizes the whole image to outW×outH into `out` (3 planes of outW×outH). */
  resize(img: RgbImage, outW: number, outH: number, norm: Normalization, mode: ResizeMode, out: Float32Array): void {
    if (out.length < outW * outH * 3) throw new Error(`resize: output holds ${out.length} values, needs ${outW * outH * 3}`);
    if (mode === 'bilinear') {
      if (this.nhwc.length !== outW * outH * 3) this.nhwc = new Float32Array(outW * outH * 3);
      cropResize(img, { x: 0, y: 0, w: img.width, h: img.height }, outW, outH, norm, this.nhwc);
      nhwcToNchw(this.nhwc, outW, outH, out);
    } else this.area(img, outW, outH, norm, out);
  }

  private tapsFor(inN: number, outN: number): AreaTaps {
    const key = `${inN}>${outN}`;
    let t = this.taps.get(key);
    if (!t) this.taps.set(key, (t = areaTaps(inN, outN)));
    return t;
  }

  /** Separable: rows first (into 3 planes of height × outW), then columns, normalising on the way out. */
  private area(img: RgbImage, outW: number, outH: number, norm: Normalization, out: Float32Array): void {
    const { width, height, rgb } = img;
    const tx = this.tapsFor(width, outW);
    const ty = this.tapsFor(height, outH);
    const plane = height * outW;
    if (this.rows.length !== plane * 3) this.rows = new Float32Array(plane * 3);
    const rows = this.rows;
    for (let y = 0; y < height; y++) {
      const src = y * width * 3;
      for (let x = 0; x < outW; x++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let k = tx.offsets[x]!; k < tx.offsets[x + 1]!; k++) {
          const w = tx.weights[k]!;
          const p = src + tx.index[k]! * 3;
          r += rgb[p]! * w;
          g += rgb[p + 1]! * w;
          b += rgb[p + 2]! * w;
        }
        const o = y * outW + x;
        rows[o] = r;
        rows[plane + o] = g;
        rows[2 * plane + o] = b;
      }
    }
    const { scale, offset } = norm;
    const outPlane = outW * outH;
    for (let c = 0; c < 3; c++) {
      const base = c * plane;
      for (let y = 0; y < outH; y++) {
        const o = c * outPlane + y * outW;
        out.fill(0, o, o + outW);
        for (let k = ty.offsets[y]!; k < ty.offsets[y + 1]!; k++) {
          const w = ty.weights[k]!;
          const src = base + ty.index[k]! * outW;
          for (let x = 0; x < outW; x++) out[o + x] += rows[src + x]! * w;
        }
        for (let x = 0; x < outW; x++) out[o + x] = out[o + x]! * scale + offset;
      }
    }
  }
}

interface AreaTaps {
  /** Taps of output i are offsets[i] .. offsets[i + 1] - 1. */
  offsets: Int32Array;
  index: Int32Array;
  weights: Float32Array;
}

/** For each output pixel, the source pixels its footprint [i·s, (i+1)·s) covers and the covered share (weights sum to 1). */
function areaTaps(inN: number, outN: number): AreaTaps {
  const s = inN / outN;
  const offsets = new Int32Array(outN + 1);
  const index: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < outN; i++) {
    const a = i * s;
    const b = Math.min((i + 1) * s, inN);
    for (let p = Math.floor(a); p < b; p++) {
      const cover = Math.min(b, p + 1) - Math.max(a, p);
      if (cover > 1e-9) {
        index.push(p);
        weights.push(cover / (b - a));
      }
    }
    offsets[i + 1] = index.length;
  }
  return { offsets, index: Int32Array.from(index), weights: Float32Array.from(weights) };
}

/** HWC (3 channels) → CHW. */
export function nhwcToNchw(src: Float32Array, width: number, height: number, out: Float32Array): void {
  const plane = width * height;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[i] = src[p]!;
    out[plane + i] = src[p + 1]!;
    out[2 * plane + i] = src[p + 2]!;
  }
}
