/**
 * The one decoder: JPEG, PNG, WebP … bytes or files → RgbImage, with sharp (EXIF orientation applied, sRGB, alpha and
 * grey handled). Every failure is one ImageInputError naming the file and the problem.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import type { RgbImage } from '../core/image.js';

// Camera frames and photos are each decoded once: libvips' operation cache would only hold on to memory.
sharp.cache(false);

export class ImageInputError extends Error {}

export async function decodeImage(bytes: Buffer, label = 'image'): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { failOn: 'truncated' }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, rgb: data };
  } catch (err) {
    throw new ImageInputError(`${label}: ${describeSharpError((err as Error).message)}`);
  }
}

/** A small grey picture: one byte per pixel, row by row. */
export interface GreyImage {
  width: number;
  height: number;
  grey: Uint8Array;
}

/**
 * The reduced decode: a grey picture at most `maxSide` px on its longer side, for a motion check. A JPEG is decoded
 * with libjpeg's shrink-on-load (sharp does it when the rest of the resize is at least 9/8 of it: maxSide ≤ side / 9
 * gives 1/8, only the DC coefficient of each 8×8 block). The grey level is worked out here from the tiny RGB picture:
 * cheaper than libvips' colour conversion. Errors as decodeImage.
 */
export async function decodeGreyThumbnail(bytes: Buffer, label = 'image', maxSide = 64): Promise<GreyImage> {
  try {
    const { data, info } = await sharp(bytes, { failOn: 'truncated', sequentialRead: true })
      .resize(maxSide, maxSide, { fit: 'inside', kernel: 'nearest', fastShrinkOnLoad: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const n = info.width * info.height;
    const grey = new Uint8Array(n);
    if (info.channels >= 3) for (let i = 0, j = 0; i < n; i++, j += info.channels) grey[i] = (77 * data[j]! + 150 * data[j + 1]! + 29 * data[j + 2]!) >> 8;
    else for (let i = 0; i < n; i++) grey[i] = data[i * info.channels]!;
    return { width: info.width, height: info.height, grey };
  } catch (err) {
    throw new ImageInputError(`${label}: ${describeSharpError((err as Error).message)}`);
  }
}

export async function readImageFile(file: string): Promise<RgbImage> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new ImageInputError(`${file}: no such file`);
  }
  if (stat.isDirectory()) throw new ImageInputError(`${file}: is a folder, not an image`);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new ImageInputError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (bytes.length === 0) throw new ImageInputError(`${file}: empty file`);
  return decodeImage(bytes, file);
}

function describeSharpError(message: string): string {
  if (/unsupported image format/i.test(message)) return 'not an image (unsupported or unknown format)';
  if (/premature end|truncated|end of (jpeg|file)|not enough data|read error|corrupt/i.test(message)) return `truncated or corrupt image (${message.split('\n')[0]})`;
  return `cannot decode it (${message.split('\n')[0]})`;
}
