/** Draws classified faces on a picture (SVG overlay composited by sharp): green mask, red no_mask, amber mask_incorrect. */
import type { Box, Label, Probs } from '../core/types.js';
import sharp from 'sharp';
import { rawInput, rgbBuffer, type RgbImage } from '../core/image.js';

export const LABEL_COLOURS: Record<Label, string> = { mask: '#1db954', no_mask: '#e5322d', mask_incorrect: '#f5a623' };

export interface AnnotatedFace {
  box: Box;
  label: Label;
  score: number;
  probs?: Probs;
}

export function overlaySvg(width: number, height: number, faces: AnnotatedFace[]): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 250));
  const font = Math.max(12, Math.round(Math.min(width, height) / 40));
  const parts = faces.map((f) => {
    const c = LABEL_COLOURS[f.label];
    const text = `${f.label} ${(f.score * 100).toFixed(0)}%`;
    const tw = Math.round(text.length * font * 0.6) + 8;
    const ty = f.box.y - font - 6 >= 0 ? f.box.y - font - 6 : f.box.y + f.box.h;
    return (
      `<rect x="${f.box.x.toFixed(1)}" y="${f.box.y.toFixed(1)}" width="${f.box.w.toFixed(1)}" height="${f.box.h.toFixed(1)}" fill="none" stroke="${c}" stroke-width="${stroke}"/>` +
      `<rect x="${f.box.x.toFixed(1)}" y="${ty.toFixed(1)}" width="${tw}" height="${font + 6}" fill="${c}"/>` +
      `<text x="${(f.box.x + 4).toFixed(1)}" y="${(ty + font).toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#fff">${escapeXml(text)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/** The formats an annotated picture is written in: the input's own, found from its extension. */
export type AnnotatedFormat = 'jpeg' | 'png' | 'webp' | 'tiff' | 'avif' | 'gif';
const FORMAT_OF_EXTENSION: Record<string, AnnotatedFormat> = {
  '.jpg': 'jpeg', '.jpeg': 'jpeg', '.jpe': 'jpeg', '.jfif': 'jpeg', '.png': 'png', '.webp': 'webp', '.tif': 'tiff', '.tiff': 'tiff', '.avif': 'avif', '.gif': 'gif',
};

/** The output format for an input's extension (any case), or null when it names no format that can be written. */
export function formatOfExtension(ext: string): AnnotatedFormat | null {
  return FORMAT_OF_EXTENSION[ext.toLowerCase()] ?? null;
}

/** The picture with its faces drawn, encoded as `format` (JPEG quality 85 by default; PNG lossless). */
export async function annotateImage(image: RgbImage, faces: AnnotatedFace[], format: AnnotatedFormat = 'jpeg', quality = 85): Promise<Buffer> {
  const drawn = sharp(rgbBuffer(image), rawInput(image)).composite([{ input: Buffer.from(overlaySvg(image.width, image.height, faces)), top: 0, left: 0 }]);
  return (format === 'png' || format === 'gif' ? drawn.toFormat(format) : drawn.toFormat(format, { quality })).toBuffer();
}

/** The picture with its faces drawn, as JPEG (the frames of an annotated video). */
export function annotateToJpeg(image: RgbImage, faces: AnnotatedFace[], quality = 85): Promise<Buffer> {
  return annotateImage(image, faces, 'jpeg', quality);
}

/**
 * Names for annotated outputs in one folder, unique in the order they are asked for: the first input of a name
 * keeps it; a later one whose name is taken (inputs of the same name from different folders, the same input twice)
 * gets `-2`, `-3`, … before its extension. Names are compared without case (a folder on a FAT card or a Mac).
 */
export class OutputNames {
  private readonly taken = new Set<string>();

  /** A free file name for stem + ext, now taken. */
  claim(stem: string, ext: string): string {
    for (let n = 1; ; n++) {
      const name = `${stem}${n === 1 ? '' : `-${n}`}${ext}`;
      if (!this.taken.has(name.toLowerCase())) {
        this.taken.add(name.toLowerCase());
        return name;
      }
    }
  }
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
