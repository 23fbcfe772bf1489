/** Draws docs/architecture.png from the code's own imports: src/ folders on their layers, an arrow per folder pair, its width the number of imports. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { importEdges, LAYERS, SRC, sourceFiles, topFolder } from './import-graph.js';

const ROLE: Record<string, string> = {
  core: 'types · image · bus · clock · log · files',
  config: 'the one convict schema',
  onnx: 'graph builder · converters · int8 · sessions',
  vision: 'decode · face crop · detectors · classifier',
  decision: 'tracker · door state',
  source: 'camera processes · demo clip',
  signals: 'lights · buzzer · GPIO drivers',
  events: 'MQTT · outbox · HA · commands',
  system: 'sd_notify · watchdog',
  workflows: 'data · train · eval · quantize · export · synth',
  daemon: 'pipeline · outputs on the bus',
  cli: 'one file per command',
};

const lines = new Map<string, number>();
for (const f of sourceFiles()) lines.set(topFolder(path.relative(SRC, f)), (lines.get(topFolder(path.relative(SRC, f))) ?? 0) + fs.readFileSync(f, 'utf8').split('\n').length);
const counts = new Map<string, number>();
for (const e of importEdges()) {
  if (e.pkg !== null || e.to.startsWith('..')) continue;
  const a = topFolder(e.from);
  const b = topFolder(e.to);
  if (a !== b) counts.set(`${a}>${b}`, (counts.get(`${a}>${b}`) ?? 0) + 1);
}
const layers = [...new Set(Object.values(LAYERS))].sort((a, b) => b - a);
const W = 1500;
const rowH = 150;
const boxW = 210;
const boxH = 66;
const pos = new Map<string, { x: number; y: number }>();
layers.forEach((layer, row) => {
  const folders = Object.keys(LAYERS).filter((f) => LAYERS[f] === layer);
  const gap = (W - folders.length * boxW) / (folders.length + 1);
  folders.forEach((f, i) => pos.set(f, { x: gap + i * (boxW + gap), y: 80 + row * rowH }));
});
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${110 + layers.length * rowH}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#7a8aa8"/></marker></defs>
<text x="20" y="36" font-size="22" font-weight="bold">maskwatch src/: layers, and every import between folders (drawn from the code)</text>
<text x="20" y="60" font-size="14" fill="#555">Arrows point from the importing folder to the imported one, always down a layer; width = number of imports.</text>`;
for (const [key, n] of counts) {
  const [a, b] = key.split('>') as [string, string];
  const p = pos.get(a)!;
  const q = pos.get(b)!;
  const x1 = p.x + boxW / 2;
  const y1 = p.y + boxH;
  const x2 = q.x + boxW / 2;
  const y2 = LAYERS[a] === LAYERS[b] ? q.y + boxH / 2 : q.y;
  const mid = (y1 + y2) / 2 + (LAYERS[a] === LAYERS[b] ? 40 : 0);
  svg += `<path d="M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2 - 2}" fill="none" stroke="#7a8aa8" stroke-opacity="0.7" stroke-width="${Math.min(6, 0.8 + Math.sqrt(n))}" marker-end="url(#a)"/>`;
}
for (const [f, p] of pos) {
  svg += `<rect x="${p.x}" y="${p.y}" width="${boxW}" height="${boxH}" rx="9" fill="#eef3fb" stroke="#556"/>
<text x="${p.x + 10}" y="${p.y + 24}" font-size="17" font-weight="bold">${f}/</text><text x="${p.x + boxW - 10}" y="${p.y + 24}" font-size="12" text-anchor="end" fill="#666">layer ${LAYERS[f]} · ${lines.get(f) ?? 0} lines</text>
<text x="${p.x + 10}" y="${p.y + 48}" font-size="12" fill="#333">${ROLE[f] ?? ''}</text>`;
}
svg += '</svg>';
const out = new URL('../docs/architecture.png', import.meta.url).pathname;
await sharp(Buffer.from(svg)).png().toFile(out);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
