/**
 * The door faces the daemon gets wrong, as pictures: every face at door distance (≥ minFace px) that the detector
 * missed, that stayed undecided, or that got the wrong light, cut from its photo around its hand-drawn box (drawn in),
 * captioned with its label and what the daemon showed. The report's counts say how many; this says which, so a user can
 * tell a model's mistake from a doubtful label.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { rgbBuffer } from '../../core/image.js';
import { LABELS, type Label } from '../../core/types.js';
import { fuseDetectorScores } from '../../decision/fuse-scores.js';
import { faceCropRegion } from '../../vision/face-crop.js';
import { readImageFile } from '../../vision/image-decode.js';
import { DOOR_BANDS, verdictOf, type DecisionRule, type DoorFace } from './door-eval.js';

const TILE = 136;
const CAPTION = 42;
const HEADER = 24;
const COLS = 8;
/** More would make a sheet nobody reads; the rest are counted in its header. */
const MAX_TILES = 96;
const COLOURS: Record<Label, string> = { mask: '#7ddc7d', no_mask: '#ff6b6b', mask_incorrect: '#ffbf47' };

export interface DoorMistake {
  face: DoorFace;
  shown: Label | 'missed' | 'undecided';
  /** The best fused label and its score (what an undecided face fell short with); null when missed. */
  best: { label: Label; score: number } | null;
}

/** Door-distance faces of at least `minFace` px whose light is not their label, by label then by what was shown. */
export function doorMistakes(faces: DoorFace[], rule: DecisionRule, minFace: number): DoorMistake[] {
  const order = [...LABELS, 'undecided', 'missed'];
  return faces
    .filter((f) => DOOR_BANDS.includes(f.band) && f.faceSize >= minFace)
    .map((face) => {
      const fused = face.probs ? fuseDetectorScores(face.probs, face.detectorScores, rule.fusionWeight) : null;
      const label = fused ? LABELS.reduce((a, b) => (fused[b] > fused[a] ? b : a)) : null;
      return { face, shown: verdictOf(face, rule), best: fused && label ? { label, score: fused[label] } : null };
    })
    .filter((m) => m.shown !== m.face.label)
    .sort((a, b) => LABELS.indexOf(a.face.label) - LABELS.indexOf(b.face.label) || order.indexOf(a.shown) - order.indexOf(b.shown));
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function caption(m: DoorMistake): string {
  const shown = m.shown === 'missed' ? 'not found' : m.shown === 'undecided' ? 'no light' : `${m.shown} ${m.best!.score.toFixed(2)}`;
  const line = (y: number, fill: string, text: string) => `<text x="4" y="${y}" font-family="DejaVu Sans, sans-serif" font-size="10" fill="${fill}">${escape(text)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${TILE}" height="${CAPTION}"><rect width="${TILE}" height="${CAPTION}" fill="#111"/>` +
    line(12, COLOURS[m.face.label], m.face.label) + line(25, '#ddd', `→ ${shown}`) +
    (m.shown === 'undecided' ? line(38, '#999', `(${m.best!.label} ${(Math.floor(m.best!.score * 100) / 100).toFixed(2)})`) : '') + '</svg>';
}

/** A PNG grid of the mistakes (each photo decoded once); `fileOf` maps a face's photoId to its file. */
export async function mistakesPng(title: string, mistakes: DoorMistake[], fileOf: (photoId: string) => string): Promise<Buffer> {
  const shown = mistakes.slice(0, MAX_TILES);
  const cols = Math.max(1, Math.min(COLS, shown.length));
  const rows = Math.ceil(shown.length / cols);
  const width = Math.max(cols * TILE, 640);
  const layers: OverlayOptions[] = [];
  const byPhoto = new Map<string, number[]>();
  shown.forEach((m, i) => byPhoto.set(m.face.photoId, [...(byPhoto.get(m.face.photoId) ?? []), i]));
  for (const [photoId, indices] of byPhoto) {
    const image = await readImageFile(fileOf(photoId));
    for (const i of indices) {
      const { box } = shown[i]!.face;
      const region = faceCropRegion(box, image, 0.3);
      const scale = Math.min(TILE / region.w, TILE / region.h);
      const [ox, oy] = [(TILE - region.w * scale) / 2, (TILE - region.h * scale) / 2];
      const frame = `<svg xmlns="http://www.w3.org/2000/svg" width="${TILE}" height="${TILE}"><rect x="${ox + (box.x - region.x) * scale}" y="${oy + (box.y - region.y) * scale}" width="${box.w * scale}" height="${box.h * scale}" fill="none" stroke="${COLOURS[shown[i]!.face.label]}" stroke-width="1.5"/></svg>`;
      const tile = await sharp(rgbBuffer(image), { raw: { width: image.width, height: image.height, channels: 3 } })
        .extract({ left: region.x, top: region.y, width: region.w, height: region.h })
        .resize(TILE, TILE, { fit: 'contain', background: '#333' })
        .composite([{ input: Buffer.from(frame) }])
        .png()
        .toBuffer();
      const [left, top] = [(i % cols) * TILE, HEADER + Math.floor(i / cols) * (TILE + CAPTION)];
      layers.push({ input: tile, left, top }, { input: Buffer.from(caption(shown[i]!)), left, top: top + TILE });
    }
  }
  const more = mistakes.length > shown.length ? ` (the first ${shown.length}; ${mistakes.length - shown.length} more)` : '';
  const header = `${mistakes.length} door face${mistakes.length === 1 ? '' : 's'} without the right light${more}: ${title}`;
  layers.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEADER}"><text x="4" y="16" font-family="DejaVu Sans, sans-serif" font-size="12" fill="#eee">${escape(header)}</text></svg>`), left: 0, top: 0 });
  return sharp({ create: { width, height: HEADER + rows * (TILE + CAPTION), channels: 3, background: '#111' } })
    .composite(layers)
    .png({ compressionLevel: 9, palette: true, quality: 90, effort: 8 })
    .toBuffer();
}
