import sharp from 'sharp';
import { clipRect, cropResize, marginSquare, type Rect, type RgbImage } from './crop.js';
import { createRng, deriveSeed, uniform } from '../../core/rng.js';
import type { FaceSample } from '../data/photos.js';

/**
 * Training-time variations of a face crop, made with sharp from the source picture (so zoom/shift/rotation
 * take real pixels from around the face, not black borders). Augmentation 0 is the plain crop; k ≥ 1 draws
 * its parameters from (crop id, k) alone, so the same (crop, k) is the same picture in every run (the feature
 * cache relies on this). Bump AUGMENT_VERSION when the recipe changes.
 */
export const AUGMENT_VERSION = 'aug1';

export const AUGMENT_RECIPE = {
  flip: 0.5,
  zoom: [0.85, 1.15],
  shift: 0.08,
  rotateDeg: 12,
  contrast: [0.75, 1.25],
  brightness: 25,
  hueShiftDeg: { p: 0.5, range: 35 },
  saturation: [0.7, 1.3],
  blur: { p: 0.25, sigma: [0.5, 1.4] },
  lowResolution: { p: 0.3, px: [16, 40] },
} as const;

export interface AugmentParams {
  flip: boolean;
  zoom: number;
  shiftX: number;
  shiftY: number;
  rotateDeg: number;
  contrast: number;
  brightness: number;
  hueDeg: number;
  saturation: number;
  blurSigma: number;
  /** 0: keep the resolution; else shrink the face to this many px and back (small, far faces). */
  lowResPx: number;
}

export function augmentParams(cropId: string, k: number): AugmentParams {
  const r = createRng(deriveSeed(0, AUGMENT_VERSION, cropId, k));
  const R = AUGMENT_RECIPE;
  return {
    flip: r() < R.flip,
    zoom: uniform(r, R.zoom[0], R.zoom[1]),
    shiftX: uniform(r, -R.shift, R.shift),
    shiftY: uniform(r, -R.shift, R.shift),
    rotateDeg: uniform(r, -R.rotateDeg, R.rotateDeg),
    contrast: uniform(r, R.contrast[0], R.contrast[1]),
    brightness: uniform(r, -R.brightness, R.brightness),
    hueDeg: r() < R.hueShiftDeg.p ? Math.round(uniform(r, -R.hueShiftDeg.range, R.hueShiftDeg.range)) : 0,
    saturation: uniform(r, R.saturation[0], R.saturation[1]),
    blurSigma: r() < R.blur.p ? uniform(r, R.blur.sigma[0], R.blur.sigma[1]) : 0,
    lowResPx: r() < R.lowResolution.p ? Math.round(uniform(r, R.lowResolution.px[0], R.lowResolution.px[1])) : 0,
  };
}

/** The face's crop square in the picture, before any augmentation. Whole-picture samples use the picture. */
export function baseRect(sample: FaceSample, image: RgbImage, margin: number): Rect {
  if (!sample.box) return { left: 0, top: 0, width: image.width, height: image.height };
  return marginSquare(sample.box, image.width, image.height, margin);
}

/** The plain crop (k = 0) or augmented crop k of a sample, size×size RGB bytes. */
export async function sampleCrop(sample: FaceSample, image: RgbImage, margin: number, size: number, k: number): Promise<Buffer> {
  const rect = baseRect(sample, image, margin);
  if (k === 0) return cropResize(image, rect, size);
  const p = augmentParams(sample.id, k);
  const side = Math.max(rect.width, rect.height) * p.zoom;
  const cx = rect.left + rect.width / 2 + p.shiftX * side;
  const cy = rect.top + rect.height / 2 + p.shiftY * side;
  // Cut a wider region, rotate it, then take the face square around where the centre went.
  const region = clipRect(cx, cy, side * 1.5, image.width, image.height);
  const rotated = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract(region)
    .rotate(p.rotateDeg, { background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const a = (p.rotateDeg * Math.PI) / 180;
  const dx = cx - (region.left + region.width / 2);
  const dy = cy - (region.top + region.height / 2);
  const ncx = rotated.info.width / 2 + dx * Math.cos(a) - dy * Math.sin(a);
  const ncy = rotated.info.height / 2 + dx * Math.sin(a) + dy * Math.cos(a);
  const rotImage: RgbImage = { width: rotated.info.width, height: rotated.info.height, rgb: rotated.data };
  const square = clipRect(ncx, ncy, side, rotImage.width, rotImage.height);
  let pipeline = sharp(rotImage.rgb, { raw: { width: rotImage.width, height: rotImage.height, channels: 3 } }).extract(square);
  const faceSide = Math.min(square.width, square.height);
  if (p.lowResPx > 0 && p.lowResPx < faceSide) {
    const small = await pipeline.resize(p.lowResPx, p.lowResPx, { fit: 'fill' }).raw().toBuffer();
    pipeline = sharp(small, { raw: { width: p.lowResPx, height: p.lowResPx, channels: 3 } });
  }
  pipeline = pipeline.resize(size, size, { fit: 'fill' });
  if (p.flip) pipeline = pipeline.flop();
  pipeline = pipeline
    .linear(p.contrast, p.brightness + 128 * (1 - p.contrast))
    .modulate({ hue: p.hueDeg, saturation: p.saturation });
  if (p.blurSigma > 0) pipeline = pipeline.blur(p.blurSigma);
  return pipeline.removeAlpha().raw().toBuffer();
}
