import sharp from 'sharp';
import { rgbBuffer, type RgbImage } from '../../core/image.js';
import type { Random } from './random.js';

export interface FinishParams {
  /** How strongly the photo's own light (its blurred luminance) shades the mask, 0..1. */
  lighting: number;
  /** Gaussian pixel noise over the whole crop, in 0..255 units. */
  noise: number;
  /** Blur over the whole crop so mask and face share one sharpness, in pixels (0 = none). */
  blur: number;
  jpegQuality: number;
}

export function pickFinish(rng: Random): FinishParams {
  return {
    lighting: rng.range(0.4, 0.85),
    noise: rng.range(0.5, 3.5),
    blur: rng.chance(0.5) ? rng.range(0.3, 0.7) : 0,
    jpegQuality: rng.int(78, 95),
  };
}

function gaussian(rng: Random): number {
  const u = Math.max(1e-9, rng.next());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * Lays the rendered mask (RGBA SVG) over the crop. The mask's colour is scaled by the photo's local brightness
 * relative to its mean under the mask, so a mask on a half-lit face is half-lit too; then noise, blur and JPEG
 * go over the whole crop alike.
 */
export async function compositeMask(crop: RgbImage, svg: string, finish: FinishParams, rng: Random): Promise<{ jpeg: Buffer; alpha: Uint8Array }> {
  const { width, height } = crop;
  const mask = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (mask.info.width !== width || mask.info.height !== height) throw new Error(`mask rendered at ${mask.info.width}×${mask.info.height}, crop is ${width}×${height}`);
  const sigma = Math.max(1, Math.min(width, height) / 8);
  const light = await sharp(rgbBuffer(crop), { raw: { width, height, channels: 3 } }).greyscale().blur(sigma).raw().toBuffer();
  const n = width * height;
  let sum = 0, weight = 0;
  for (let i = 0; i < n; i++) {
    const a = mask.data[i * 4 + 3] / 255;
    sum += a * light[i];
    weight += a;
  }
  const mean = weight > 0 ? Math.max(8, sum / weight) : 128;
  const out = Buffer.alloc(n * 3);
  const alpha = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = mask.data[i * 4 + 3] / 255;
    alpha[i] = mask.data[i * 4 + 3];
    const shade = Math.min(1.35, Math.max(0.45, 1 + finish.lighting * (light[i] / mean - 1)));
    const grain = finish.noise * gaussian(rng);
    for (let c = 0; c < 3; c++) {
      const face = crop.rgb[i * 3 + c]!;
      const m = Math.min(255, mask.data[i * 4 + c] * shade);
      out[i * 3 + c] = Math.max(0, Math.min(255, Math.round(face * (1 - a) + m * a + grain)));
    }
  }
  let pipeline = sharp(out, { raw: { width, height, channels: 3 } });
  if (finish.blur >= 0.3) pipeline = pipeline.blur(Math.max(0.3, finish.blur));
  const jpeg = await pipeline.jpeg({ quality: finish.jpegQuality, mozjpeg: false }).toBuffer();
  return { jpeg, alpha };
}
