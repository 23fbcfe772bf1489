import sharp from 'sharp';
import { clippedSquare } from '../../core/geometry.js';
import { rawInput, rgbBuffer, type RgbImage } from '../../core/image.js';
import { createRng, deriveSeed, uniform } from '../../core/rng.js';
import { faceView, type FaceView } from '../../vision/face-crop.js';
import { wholeImage } from '../../vision/resample.js';
import type { FaceSample } from '../data/photos.js';

/**
 * Training-time variations of a face crop, made with sharp from the source picture (so zoom/shift/rotation
 * take real pixels from around the face, not black borders). Augmentation 0 is the plain crop; k ≥ 1 draws
 * its parameters from (crop id, k) alone, so the same (crop, k) is the same picture in every run (the feature
 * cache relies on this). Bump AUGMENT_VERSION when the recipe changes.
 */
export const AUGMENT_VERSION = 'aug2';

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

/**
 * The plain view (k = 0: exactly what the daemon crops) or augmented view k of a sample. Augmentation works on the source
 * pixels around the face (rotation, flip, colour, blur, low resolution) and returns the transformed square; the one crop
 * path (src/vision/face-crop.ts) then resamples either to the model input.
 */
export async function sampleView(sample: FaceSample, image: RgbImage, margin: number, k: number): Promise<FaceView> {
  const plain = faceView(image, sample.box, margin);
  if (k === 0) return plain;
  const rect = plain.region;
  const p = augmentParams(sample.id, k);
  const side = Math.max(rect.w, rect.h) * p.zoom;
  const cx = rect.x + rect.w / 2 + p.shiftX * side;
  const cy = rect.y + rect.h / 2 + p.shiftY * side;
  // Cut a wider region, rotate it, then take the face square around where the centre went.
  const region = clippedSquare(cx, cy, side * 1.5, image.width, image.height);
  const rotated = await sharp(rgbBuffer(image), rawInput(image))
    .extract({ left: region.x, top: region.y, width: region.w, height: region.h })
    .rotate(p.rotateDeg, { background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const a = (p.rotateDeg * Math.PI) / 180;
  const dx = cx - (region.x + region.w / 2);
  const dy = cy - (region.y + region.h / 2);
  const ncx = rotated.info.width / 2 + dx * Math.cos(a) - dy * Math.sin(a);
  const ncy = rotated.info.height / 2 + dx * Math.sin(a) + dy * Math.cos(a);
  const square = clippedSquare(ncx, ncy, side, rotated.info.width, rotated.info.height);
  let pipeline = sharp(rotated.data, { raw: { width: rotated.info.width, height: rotated.info.height, channels: 3 } }).extract({ left: square.x, top: square.y, width: square.w, height: square.h });
  const faceSide = Math.min(square.w, square.h);
  if (p.lowResPx > 0 && p.lowResPx < faceSide) {
    const small = await pipeline.resize(p.lowResPx, p.lowResPx, { fit: 'fill' }).raw().toBuffer();
    pipeline = sharp(small, { raw: { width: p.lowResPx, height: p.lowResPx, channels: 3 } });
  }
  if (p.flip) pipeline = pipeline.flop();
  pipeline = pipeline.linear(p.contrast, p.brightness + 128 * (1 - p.contrast)).modulate({ hue: p.hueDeg, saturation: p.saturation });
  // The recipe's blur is in model-input pixels: scale it to the square's own size.
  const viewSide = p.lowResPx > 0 && p.lowResPx < faceSide ? p.lowResPx : faceSide;
  if (p.blurSigma > 0) pipeline = pipeline.blur(Math.max(0.3, (p.blurSigma * viewSide) / MODEL_INPUT_FOR_BLUR));
  const out = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const view: RgbImage = { width: out.info.width, height: out.info.height, rgb: out.data };
  return { image: view, region: wholeImage(view) };
}

/** The input size the blur recipe was written for. */
const MODEL_INPUT_FOR_BLUR = 224;
