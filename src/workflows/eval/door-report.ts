/** The door evaluation as a table (per band, per class, n beside every figure) and as a PNG (recall by face size). */
import sharp from 'sharp';
import { LABELS } from '../../core/types.js';
import { DOOR_BANDS, type DoorReport, type DoorScore } from './door-eval.js';
import { formatInterval, wilsonInterval } from './intervals.js';

const pct = (v: number) => (100 * v).toFixed(1);

function classCells(s: DoorScore): string {
  return LABELS.map((l) => {
    const c = s.perClass[l];
    return c.n ? `${pct(c.detectionRecall).padStart(5)} ${pct(c.labelAccuracy).padStart(5)} ${pct(c.recall).padStart(5)} ${String(c.n).padStart(4)}` : `${'–'.padStart(5)} ${'–'.padStart(5)} ${'–'.padStart(5)} ${'0'.padStart(4)}`;
  }).join(' │ ');
}

export function formatDoorReport(title: string, r: DoorReport): string {
  const head = LABELS.map((l) => l.padEnd(23)).join(' │ ');
  const sub = LABELS.map(() => `${'det%'.padStart(5)} ${'lbl%'.padStart(5)} ${'e2e%'.padStart(5)} ${'n'.padStart(4)}`).join(' │ ');
  const row = (name: string, s: DoorScore) => `${name.padEnd(22)} ${classCells(s)} │ ${s.macroF1.toFixed(3).padStart(6)} ${String(s.faces).padStart(5)}`;
  const lines = [
    `${title}: ${r.photos} photos, ${r.unmatchedDetections} detections matching no hand-drawn face; label fusion weight ${r.fusionWeight}, confidence ${r.confidence}`,
    `det% = found by the detector (IoU ≥ 0.3); lbl% = right label among the found; e2e% = found with the right label at the confidence;`,
    `macro-F1 end to end, a missed or undecided face counting as wrong. Bands: the face's width as a share of the photo's.`,
    `${''.padEnd(22)} ${head} │ ${'macroF1'.padStart(6)} ${'faces'.padStart(5)}`,
    `${''.padEnd(22)} ${sub} │`,
    row(`DOOR ≥ ${r.minFace} px, 10–40 %`, r.door),
    ...r.bands.map((b) => row(`${b.band} ≥ ${r.minFace} px`, b.large)),
    ...r.bands.map((b) => row(`${b.band} all sizes`, b.all)),
    row('all faces', r.all),
    ...intervalLines(r),
  ];
  return lines.join('\n');
}

/** The door row's figures with their 95 % intervals: what one face more or less could make of them. */
function intervalLines(r: DoorReport): string[] {
  const i = r.doorIntervals;
  const shares = (what: 'detectionRecall' | 'recall', count: 'detected' | 'correct') =>
    LABELS.map((l) => {
      const c = r.door.perClass[l];
      return c.n ? `${l} ${c[what].toFixed(2)} (${c[count]}/${c.n}, ${formatInterval(i.perClass[l][what])})` : `${l} – (0 faces)`;
    }).join(', ');
  const undecided = LABELS.map((l) => `${l} ${r.door.perClass[l].undecided}/${r.door.perClass[l].n}`).join(', ');
  return [
    `${Math.round(i.level * 100)} % intervals at door distance (shares: Wilson; macro-F1: bootstrap over its ${i.photos} photos, ${i.resamples} resamples):`,
    `  found  ${shares('detectionRecall', 'detected')}`,
    `  e2e    ${shares('recall', 'correct')}`,
    `  macro-F1 ${r.door.macroF1.toFixed(3)} (${formatInterval(i.macroF1)})`,
    `found but undecided at confidence ${r.confidence} (no light): ${undecided}`,
  ];
}

const COLOURS = { mask: '#2e9e44', no_mask: '#d33', mask_incorrect: '#f0a020' } as const;

/** Grouped bars per band: detection recall (light) and end-to-end recall (full colour) per class, n under each group. */
export async function doorPng(title: string, r: DoorReport): Promise<Buffer> {
  const W = 1180;
  const H = 490;
  const x0 = 70;
  const y0 = 100;
  const h = 280;
  const groupW = (W - x0 - 40) / r.bands.length;
  // A 95 % interval as a vertical line with end ticks.
  const whisker = (x: number, [lo, hi]: [number, number], colour: string) => {
    const [ya, yb] = [y0 + h - hi * h, y0 + h - lo * h];
    return `<path d="M${x},${ya}V${yb}M${x - 3},${ya}H${x + 3}M${x - 3},${yb}H${x + 3}" stroke="${colour}" stroke-width="1.2" fill="none"/>`;
  };
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="white"/>`, `<text x="20" y="30" font-size="18" font-weight="bold">${esc(title)}</text>`];
  const door = LABELS.map((l) => `${l} ${r.door.perClass[l].detectionRecall.toFixed(2)} (n=${r.door.perClass[l].n})`).join(', ');
  parts.push(`<text x="20" y="52" font-size="13" fill="#444">faces ≥ ${r.minFace} px by width share of the photo; pale bar: found by the detector; full bar: found and given the right light; whiskers: 95 % intervals (Wilson).</text>`);
  parts.push(`<text x="20" y="70" font-size="13" fill="#444">Door distance (10–40 %): found ${esc(door)}; end-to-end macro-F1 ${r.door.macroF1.toFixed(3)} (95 % ${formatInterval(r.doorIntervals.macroF1)}); fusion ${r.fusionWeight}, confidence ${r.confidence}</text>`);
  for (const t of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    const y = y0 + h - t * h;
    parts.push(`<line x1="${x0}" y1="${y}" x2="${W - 30}" y2="${y}" stroke="#ddd"/><text x="${x0 - 6}" y="${y + 4}" font-size="11" text-anchor="end">${t.toFixed(2)}</text>`);
  }
  r.bands.forEach((b, i) => {
    const gx = x0 + i * groupW + 20;
    const bw = (groupW - 40) / LABELS.length;
    LABELS.forEach((l, j) => {
      const c = b.large.perClass[l];
      const x = gx + j * bw;
      if (c.n) {
        parts.push(`<rect x="${x}" y="${y0 + h - c.detectionRecall * h}" width="${bw - 6}" height="${c.detectionRecall * h}" fill="${COLOURS[l]}" fill-opacity="0.3"/>`);
        parts.push(`<rect x="${x + 4}" y="${y0 + h - c.recall * h}" width="${bw - 14}" height="${c.recall * h}" fill="${COLOURS[l]}"/>`);
        parts.push(whisker(x + (bw - 6) / 2 - 5, wilsonInterval(c.detected, c.n), '#999'));
        parts.push(whisker(x + (bw - 6) / 2 + 5, wilsonInterval(c.correct, c.n), '#222'));
        parts.push(`<text x="${x + (bw - 6) / 2}" y="${y0 - 6}" font-size="10" text-anchor="middle">${c.detectionRecall.toFixed(2)}</text>`);
      }
      parts.push(`<text x="${x + (bw - 6) / 2}" y="${y0 + h + 16}" font-size="10" text-anchor="middle">n=${c.n}</text>`);
    });
    const dim = DOOR_BANDS.includes(b.band) ? ' font-weight="bold"' : '';
    parts.push(`<text x="${gx + (groupW - 40) / 2}" y="${y0 + h + 36}" font-size="13" text-anchor="middle"${dim}>${esc(b.band)}</text>`);
    parts.push(`<text x="${gx + (groupW - 40) / 2}" y="${y0 + h + 54}" font-size="11" text-anchor="middle" fill="#444">macro-F1 ${b.large.macroF1.toFixed(2)}</text>`);
  });
  LABELS.forEach((l, j) => parts.push(`<rect x="${x0 + j * 170}" y="${H - 28}" width="14" height="14" fill="${COLOURS[l]}"/><text x="${x0 + j * 170 + 20}" y="${H - 16}" font-size="12">${l}</text>`));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
