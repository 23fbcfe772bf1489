import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { writeFileAtomic } from '../../core/files.js';
import type { SynthItem, SynthManifest } from './generate.js';
import { createRandom } from './random.js';

const TILE = 168;
const COLS = 6;
const ROWS = 4;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Picks a spread of items: round-robin over variants, random within each (seeded). */
function pickSpread(items: SynthItem[], count: number, seed: number): SynthItem[] {
  const rng = createRandom(seed);
  const byVariant = new Map<string, SynthItem[]>();
  for (const item of items) byVariant.set(item.variant, [...(byVariant.get(item.variant) ?? []), item]);
  const pools = [...byVariant.values()].map((pool) => {
    const copy = [...pool];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  });
  const out: SynthItem[] = [];
  while (out.length < count && pools.some((p) => p.length)) for (const p of pools) if (p.length && out.length < count) out.push(p.pop()!);
  return out;
}

/** A grid of ~24 synthetic crops, each labelled "variant · shape · colour", as a PNG. */
export async function writeContactSheet(outDir: string, manifest: SynthManifest, pngFile: string, seed: number): Promise<void> {
  const chosen = pickSpread(manifest.items, COLS * ROWS, seed);
  const layers: OverlayOptions[] = [];
  for (const [i, item] of chosen.entries()) {
    const left = (i % COLS) * TILE;
    const top = Math.floor(i / COLS) * (TILE + 20);
    const tile = await sharp(path.join(outDir, item.file)).resize(TILE, TILE, { fit: 'contain', background: '#333' }).png().toBuffer();
    const text = `${item.variant} · ${item.style.shape} · ${item.style.pattern ?? item.style.colour}`;
    const caption = `<svg xmlns="http://www.w3.org/2000/svg" width="${TILE}" height="20"><rect width="${TILE}" height="20" fill="#111"/><text x="4" y="14" font-family="DejaVu Sans, sans-serif" font-size="10" fill="${item.label === 'mask' ? '#7ddc7d' : '#ffbf47'}">${escape(text)}</text></svg>`;
    layers.push({ input: tile, left, top }, { input: Buffer.from(caption), left, top: top + TILE });
  }
  const png = await sharp({ create: { width: COLS * TILE, height: ROWS * (TILE + 20), channels: 3, background: '#111' } })
    .composite(layers)
    .png({ compressionLevel: 9, palette: true, quality: 90, effort: 8 })
    .toBuffer();
  writeFileAtomic(pngFile, png);
}
