import sharp from 'sharp';
import type { Metrics } from './metrics.js';

/** The evaluation picture: confusion-matrix heat-maps with counts, and per-class precision/recall/F1 bars (SVG → PNG). */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function heatmap(m: Metrics, title: string, x0: number, y0: number): string {
  const cell = 88;
  const k = m.labels.length;
  const parts: string[] = [`<text x="${x0}" y="${y0 - 48}" font-size="16" font-weight="bold">${esc(title)}</text>`];
  parts.push(`<text x="${x0 + (k * cell) / 2}" y="${y0 - 24}" font-size="12" text-anchor="middle" font-style="italic">predicted ↓</text>`);
  m.labels.forEach((l, j) => parts.push(`<text x="${x0 + j * cell + cell / 2}" y="${y0 - 5}" font-size="11" text-anchor="middle">${esc(l)}</text>`));
  m.confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    parts.push(`<text x="${x0 - 8}" y="${y0 + i * cell + cell / 2 + 4}" font-size="11" text-anchor="end">${esc(m.labels[i])}</text>`);
    row.forEach((v, j) => {
      const share = v / total;
      const shade = Math.round(255 - 200 * share);
      const fill = i === j ? `rgb(${shade},${Math.round(255 - 90 * share)},${shade})` : `rgb(255,${shade},${shade})`;
      parts.push(`<rect x="${x0 + j * cell}" y="${y0 + i * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#555"/>`);
      parts.push(`<text x="${x0 + j * cell + cell / 2}" y="${y0 + i * cell + cell / 2}" font-size="16" text-anchor="middle">${v}</text>`);
      parts.push(`<text x="${x0 + j * cell + cell / 2}" y="${y0 + i * cell + cell / 2 + 16}" font-size="10" text-anchor="middle" fill="#333">${(100 * share).toFixed(0)} %</text>`);
    });
  });
  parts.push(`<text x="${x0 - 8}" y="${y0 + k * cell + 18}" font-size="12" text-anchor="end">true ↑</text>`);
  parts.push(`<text x="${x0}" y="${y0 + k * cell + 18}" font-size="12">${m.count} faces, macro-F1 ${m.macroF1.toFixed(3)}</text>`);
  return parts.join('');
}

function bars(m: Metrics, title: string, x0: number, y0: number): string {
  const h = 180;
  const colours = { precision: '#4477aa', recall: '#ee7733', f1: '#228833' } as const;
  const parts: string[] = [`<text x="${x0}" y="${y0 - 40}" font-size="16" font-weight="bold">${esc(title)}</text>`];
  parts.push(`<line x1="${x0}" y1="${y0 + h}" x2="${x0 + 330}" y2="${y0 + h}" stroke="#000"/>`);
  for (const t of [0, 0.5, 0.8, 0.9, 1]) {
    const y = y0 + h - t * h;
    parts.push(`<line x1="${x0}" y1="${y}" x2="${x0 + 330}" y2="${y}" stroke="#ccc" stroke-dasharray="3,3"/>`);
    parts.push(`<text x="${x0 - 5}" y="${y + 4}" font-size="10" text-anchor="end">${t.toFixed(1)}</text>`);
  }
  m.labels.forEach((l, i) => {
    const c = m.perClass[l];
    (['precision', 'recall', 'f1'] as const).forEach((key, j) => {
      const v = c[key];
      const x = x0 + 15 + i * 105 + j * 28;
      parts.push(`<rect x="${x}" y="${y0 + h - v * h}" width="24" height="${v * h}" fill="${colours[key]}"/>`);
      parts.push(`<text x="${x + 12}" y="${y0 + h - v * h - 3}" font-size="9" text-anchor="middle">${v.toFixed(2)}</text>`);
    });
    parts.push(`<text x="${x0 + 15 + i * 105 + 40}" y="${y0 + h + 16}" font-size="11" text-anchor="middle">${esc(l)} (${c.support})</text>`);
  });
  (['precision', 'recall', 'f1'] as const).forEach((key, j) => {
    parts.push(`<rect x="${x0 + j * 90}" y="${y0 + h + 30}" width="12" height="12" fill="${colours[key]}"/>`);
    parts.push(`<text x="${x0 + j * 90 + 16}" y="${y0 + h + 41}" font-size="11">${key}</text>`);
  });
  return parts.join('');
}

export function evaluationSvg(title: string, all: Metrics, large: Metrics, minFace: number): string {
  const width = 1300;
  const height = 440;
  const body = [
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="20" y="28" font-size="18" font-weight="bold">${esc(title)}</text>`,
    heatmap(all, 'all faces', 110, 110),
    heatmap(large, `faces ≥ ${minFace} px`, 530, 110),
    bars(large, `faces ≥ ${minFace} px: per class`, 940, 110),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">${body.join('')}</svg>`;
}

export async function evaluationPng(title: string, all: Metrics, large: Metrics, minFace: number): Promise<Buffer> {
  return sharp(Buffer.from(evaluationSvg(title, all, large, minFace))).png().toBuffer();
}
