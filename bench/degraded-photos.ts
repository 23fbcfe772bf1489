/**
 * `node --import tsx bench/degraded-photos.ts [--split test|validation] [--model DIR]`: the door evaluation on worse
 * pictures than the data set's, as a door camera may give them. Each photo of the model's split (Pascal VOC photos
 * only) is written again as a grey picture (an infrared or night camera), darkened to 0.35 of its levels (a backlit
 * face in a doorway), as a JPEG of quality 20, and blurred (sigma 1.5 px), with its hand-drawn boxes; then
 * `maskwatch eval --data` runs on each as the daemon would, and the door lines are printed beside the photos as they
 * are. Not a unit test: it writes .cache/degraded/<split>/ and takes about a minute.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { REPO_ROOT } from '../src/core/paths.js';
import { readModelCard } from '../src/vision/model-card.js';
import { loadCardData } from '../src/workflows/eval/eval-run.js';
import { SPLITS } from '../src/workflows/data/split.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const split = arg('--split', 'test');
if (!(SPLITS as readonly string[]).includes(split)) {
  console.error(`--split: one of ${SPLITS.join(', ')}, got ${split}`);
  process.exit(2);
}
const model = arg('--model', path.join(REPO_ROOT, 'models/maskwatch-default'));
const CONDITIONS: Record<string, ((image: Sharp) => Sharp) | null> = {
  'as taken': null,
  grey: (i) => i.grayscale().toColourspace('srgb'),
  'dark (0.35)': (i) => i.linear(0.35, 0),
  'JPEG quality 20': (i) => i,
  'blur 1.5 px': (i) => i.blur(1.5),
};

const card = readModelCard(model);
const { data } = await loadCardData(card, path.join(REPO_ROOT, '.cache/features'), model, '--model DIR', true);
const vocRoots = data.roots.filter((r) => r.kind === 'voc').map((r) => r.path);
const inSplit = new Set([...data.splitOf].filter(([, s]) => s === split).map(([id]) => id));
const photos = new Map<string, string>();
for (const s of data.samples) if (inSplit.has(s.photoId) && vocRoots.some((r) => s.photoId.startsWith(`${path.basename(r)}/`))) photos.set(s.photoId, s.file);
if (!photos.size) {
  console.error(`${model}: no Pascal VOC photos in its ${split} split`);
  process.exit(2);
}
console.log(`${card.name}, ${split} split: ${photos.size} photos`);
const out = path.join(REPO_ROOT, '.cache/degraded', split);
for (const [name, change] of Object.entries(CONDITIONS)) {
  const dir = path.join(out, name.replace(/[^a-z0-9]+/gi, '-'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'annotations'), { recursive: true });
  for (const file of photos.values()) {
    const base = path.basename(file);
    const target = path.join(dir, 'images', base);
    if (!change) fs.copyFileSync(file, target);
    else fs.writeFileSync(target, await change(sharp(file).removeAlpha()).jpeg({ quality: name.startsWith('JPEG') ? 20 : 92 }).toBuffer());
    const xml = base.replace(/\.\w+$/, '.xml');
    fs.copyFileSync(path.join(path.dirname(path.dirname(file)), 'annotations', xml), path.join(dir, 'annotations', xml));
  }
  const printed = execFileSync(process.execPath, [path.join(REPO_ROOT, 'bin/maskwatch.js'), 'eval', '--model', model, '--data', dir, '--no-progress'], { encoding: 'utf8' });
  console.log(`\n${name}`);
  for (const line of printed.split('\n')) if (/^(DOOR|  found|  e2e|  macro-F1)/.test(line)) console.log(line);
}
