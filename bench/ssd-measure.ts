/**
 * `node --import tsx bench/ssd-measure.ts [--model file.onnx] [--label name] [--speed-only | --recall-only] [--write]`:
 * the AIZOO SSD's speed and door-distance recall per input size, to choose its defaults. Not a unit test;
 * run it once, on a quiet machine if you can (it prints the load average).
 *
 * - speed: median ms of detect() (resize + /255 NCHW, ORT run, decode + NMS) on a 640×480 frame, 1 ORT thread,
 *   graph optimisation 'all' (openSession's), and of its parts.
 * - recall: the Kaggle VOC photos of the validation split exactly as the trainer splits them (train/default.json's data
 *   roots, DEFAULT_SPLIT); per class, faces ≥ 32 px whose width is 10–40 % of the photo width ("door distance");
 *   a face counts as found when a detection at or above the score threshold overlaps it at IoU ≥ 0.3.
 *   Square inputs stretch the photo (as the model was trained); the aspect-kept inputs (4:3) are turned to
 *   portrait (e.g. 240×320) for portrait photos, as a camera of that orientation would be set up.
 * --write puts the tables in models/aizoo-face-mask-ssd/measurements.md.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { writeFileAtomic } from '../src/core/files.js';
import { iou } from '../src/core/geometry.js';
import { LABELS, type Box, type Frame, type Label } from '../src/core/types.js';
import { loadLabelledData, samplesIn } from '../src/workflows/data/labelled-data.js';
import { parseDataSpec } from '../src/workflows/data/datasets.js';
import { DEFAULT_SPLIT } from '../src/workflows/data/split.js';
import { BlazeFaceDetector } from '../src/vision/blazeface-detector.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { decodeSsd, generateSsdAnchors, greedyNms, SSD_TRAINED_SIZE, type SsdAnchorOptions } from '../src/vision/ssd-decode.js';
import { SsdFaceDetector, ssdModelFile } from '../src/vision/ssd-detector.js';
import { timeCalls } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIZES: Array<[number, number]> = [[260, 260], [224, 224], [192, 192], [160, 160], [320, 240], [288, 216], [256, 192]];
const THRESHOLDS = [0.3, 0.4, 0.5];
const MATCH_IOU = 0.3;
const NMS_IOU = 0.4;
const TRAIN_CONFIG = path.join(ROOT, 'train', 'default.json');

interface Variant {
  name: string;
  size: [number, number];
  resize: 'bilinear' | 'antialiased';
  anchorGrid?: SsdAnchorOptions['grid'];
  anchorPixels?: number;
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function cpuLine(): string {
  const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? os.cpus()[0]?.model ?? 'unknown CPU';
  const flags = /flags\s*:\s*(.*)/.exec(info)?.[1]?.split(/\s+/) ?? [];
  const has = (f: string) => (flags.includes(f) ? 'yes' : 'no');
  return `${model} × ${os.cpus().length}; avx2 ${has('avx2')}, avx512f ${has('avx512f')}, avx512_vnni ${has('avx512_vnni')}, avx_vnni ${has('avx_vnni')}`;
}

const sizeName = ([w, h]: [number, number]) => (w === h ? `${w}` : `${w}×${h}`);

function variants(): Variant[] {
  const out: Variant[] = [];
  for (const size of SIZES) {
    const trained = size[0] === SSD_TRAINED_SIZE && size[1] === SSD_TRAINED_SIZE;
    out.push({ name: `${sizeName(size)} bilinear`, size, resize: 'bilinear' });
    out.push({ name: `${sizeName(size)} antialiased`, size, resize: 'antialiased' });
    out.push({ name: `${sizeName(size)} bilinear, rf grid`, size, resize: 'bilinear', anchorGrid: 'receptive-field' });
    if (!trained) out.push({ name: `${sizeName(size)} bilinear, rf grid + 260-px sizes`, size, resize: 'bilinear', anchorGrid: 'receptive-field', anchorPixels: SSD_TRAINED_SIZE });
  }
  return out;
}

function detector(modelFile: string, v: Variant, size: [number, number] = v.size): SsdFaceDetector {
  return new SsdFaceDetector({ inputWidth: size[0], inputHeight: size[1], scoreThreshold: Math.min(...THRESHOLDS), iouThreshold: NMS_IOU, minFaceSize: 0, maxFaces: 1000, antialias: v.resize === 'antialiased', anchorGrid: v.anchorGrid, anchorPixels: v.anchorPixels, modelFile, intraOpNumThreads: 1 });
}

async function frame640(): Promise<Frame> {
  const { data, info } = await sharp(path.join(ROOT, 'test/fixtures/faces/sample5.jpg')).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { seq: 0, capturedAt: 0, width: info.width, height: info.height, rgb: data };
}

async function speed(modelFile: string, label: string): Promise<string[]> {
  const frame = await frame640();
  const lines = [
    `### Speed (${label}), 640×480 frame, 1 ORT thread, graph optimisation 'all'`,
    '',
    `| input | resize | detect() median ms | p90 | CPU ms/call | resize ms | model run ms | decode+NMS ms | faces |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const v of variants().filter((x) => x.anchorPixels === undefined && x.anchorGrid === undefined)) {
    const d = detector(modelFile, { ...v }, v.size);
    await d.start();
    try {
      const faces = (await d.detect(frame)).filter((f) => f.score >= 0.5).length;
      const full = await timeCalls(() => d.detect(frame), 100, 15);
      const pre = await timeCalls(() => d.preprocess(frame), 100, 15);
      const run = await timeCalls(() => d.infer(), 100, 15);
      const { loc, cls } = await d.infer();
      const anchors = generateSsdAnchors(v.size[1], v.size[0]);
      const post = await timeCalls(() => greedyNms(decodeSsd(loc, cls, anchors, 0.3), NMS_IOU), 100, 15);
      lines.push(`| ${sizeName(v.size)} | ${v.resize} | **${full.median.toFixed(2)}** | ${full.p90.toFixed(2)} | ${full.cpuMs.toFixed(2)} | ${pre.median.toFixed(2)} | ${run.median.toFixed(2)} | ${post.median.toFixed(2)} | ${faces} |`);
    } finally {
      await d.close();
    }
  }
  return lines;
}

interface GroundTruth {
  label: Label;
  box: Box;
}

async function validationPhotos(): Promise<{ photos: Array<{ file: string; faces: GroundTruth[] }>; roots: string[] }> {
  const roots = (JSON.parse(fs.readFileSync(TRAIN_CONFIG, 'utf8')) as { data: string[] }).data;
  const specs = roots.map((r) => parseDataSpec(r)).map((s) => ({ ...s, path: path.resolve(ROOT, s.path) }));
  const data = await loadLabelledData(specs, DEFAULT_SPLIT, path.join(ROOT, '.cache'));
  const byFile = new Map<string, GroundTruth[]>();
  for (const s of samplesIn(data, 'validation')) {
    if (!s.box || s.synthetic) continue; // whole-picture crops (unmasked-faces) have no photo to detect in
    byFile.set(s.file, [...(byFile.get(s.file) ?? []), { label: s.label, box: s.box }]);
  }
  return { photos: [...byFile].map(([file, faces]) => ({ file, faces })).sort((a, b) => a.file.localeCompare(b.file)), roots };
}

interface Tally {
  found: Record<string, Record<Label, number>>;
  dets: Record<string, number>;
  ious: Record<string, number[]>;
  /** Matched box centre − hand-drawn centre, in face widths / heights. */
  shifts: Record<string, Array<[number, number]>>;
}

async function recall(modelFile: string, label: string): Promise<string[]> {
  const { photos, roots } = await validationPhotos();
  const vs = variants();
  const dets = new Map<string, SsdFaceDetector>();
  for (const v of vs)
    for (const size of [v.size, [v.size[1], v.size[0]] as [number, number]]) {
      const key = `${v.name}|${size}`;
      if (dets.has(key)) continue;
      const d = detector(modelFile, v, size);
      await d.start();
      dets.set(key, d);
    }
  const blaze = new BlazeFaceDetector({ variant: 'front', scoreThreshold: 0.75, iouThreshold: 0.3, minFaceSize: 0, maxFaces: 1000, intraOpNumThreads: 1 });
  await blaze.start();
  const n = Object.fromEntries(LABELS.map((l) => [l, 0])) as Record<Label, number>;
  const rows = [...vs.flatMap((v) => THRESHOLDS.map((t) => `${v.name}|${t}`)), 'blazeface|0.75'];
  const tally: Tally = { found: {}, dets: {}, ious: {}, shifts: {} };
  for (const r of rows) {
    tally.found[r] = Object.fromEntries(LABELS.map((l) => [l, 0])) as Record<Label, number>;
    tally.dets[r] = 0;
    tally.ious[r] = [];
    tally.shifts[r] = [];
  }
  let doorPhotos = 0;
  for (const photo of photos) {
    const img = await readImageFile(photo.file);
    const frame: Frame = { seq: 0, capturedAt: 0, ...img };
    const door = photo.faces.filter((f) => Math.min(f.box.w, f.box.h) >= 32 && f.box.w >= 0.1 * img.width && f.box.w <= 0.4 * img.width);
    for (const f of door) n[f.label]++;
    if (door.length) doorPhotos++;
    const score = (key: string, boxes: Array<{ box: Box; score: number }>, t: number) => {
      const kept = boxes.filter((b) => b.score >= t);
      tally.dets[key]! += kept.length;
      for (const f of door) {
        let best = 0;
        let match: Box | undefined;
        for (const b of kept) {
          const o = iou(b.box, f.box);
          if (o > best) [best, match] = [o, b.box];
        }
        if (best >= MATCH_IOU && match) {
          tally.found[key]![f.label]++;
          tally.ious[key]!.push(best);
          const centre = (b: Box) => [b.x + b.w / 2, b.y + b.h / 2];
          const [mx, my] = centre(match);
          const [fx, fy] = centre(f.box);
          tally.shifts[key]!.push([(mx! - fx!) / f.box.w, (my! - fy!) / f.box.h]);
        }
      }
    };
    const portrait = img.height > img.width;
    for (const v of vs) {
      const size: [number, number] = portrait && v.size[0] !== v.size[1] ? [v.size[1], v.size[0]] : v.size;
      const faces = await dets.get(`${v.name}|${size}`)!.detect(frame);
      for (const t of THRESHOLDS) score(`${v.name}|${t}`, faces, t);
    }
    score('blazeface|0.75', await blaze.detect(frame), 0.75);
  }
  for (const d of dets.values()) await d.close();
  await blaze.close();
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)]! : NaN;
  };
  const lines = [
    `### Door-distance recall (${label}): validation split, ${photos.length} Kaggle photos (${doorPhotos} with door-distance faces)`,
    '',
    `Split: data roots ${roots.join(', ')} (train/default.json), DEFAULT_SPLIT seed ${DEFAULT_SPLIT.seed}, ${DEFAULT_SPLIT.fractions.join('/')}. ` +
      `Faces ≥ 32 px, width 10–40 % of the photo; found = a detection with IoU ≥ ${MATCH_IOU}. Det/photo counts every detection at that score over all ${photos.length} photos.`,
    '',
    `| detector | score ≥ | mask (n=${n.mask}) | mask_incorrect (n=${n.mask_incorrect}) | no_mask (n=${n.no_mask}) | det/photo | median IoU | mean centre shift x, y (face sizes) |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const [name, t] = r.split('|');
    const share = (l: Label) => (n[l] ? (tally.found[r]![l] / n[l]).toFixed(3) : '–');
    const det = name === 'blazeface' ? 'BlazeFace front 128 (current default)' : `SSD ${name}`;
    const sh = tally.shifts[r]!;
    const mean = (k: 0 | 1) => (sh.reduce((a, v) => a + v[k], 0) / Math.max(1, sh.length)).toFixed(3);
    lines.push(`| ${det} | ${t} | ${share('mask')} | ${share('mask_incorrect')} | ${share('no_mask')} | ${(tally.dets[r]! / photos.length).toFixed(2)} | ${median(tally.ious[r]!).toFixed(2)} | ${mean(0)}, ${mean(1)} |`);
  }
  return lines;
}

async function main(): Promise<void> {
  const modelFile = path.resolve(argValue('--model') ?? ssdModelFile());
  const label = argValue('--label') ?? path.basename(modelFile);
  const sha = execFileSync('sha256sum', [modelFile], { encoding: 'utf8' }).split(' ')[0];
  const head = [
    `## ${label}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} by bench/ssd-measure.ts on ${cpuLine()}; node ${process.version}; ` +
      `load average at start ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (the machine is shared, so timings are noisy). Model sha256 ${sha}.`,
    '',
  ];
  const lines = [...head];
  if (!process.argv.includes('--recall-only')) lines.push(...(await speed(modelFile, label)), '');
  if (!process.argv.includes('--speed-only')) lines.push(...(await recall(modelFile, label)), '');
  const text = lines.join('\n');
  console.log(text);
  if (process.argv.includes('--write')) {
    const out = path.join(ROOT, 'models', 'aizoo-face-mask-ssd', 'measurements.md');
    // One section per --label: a rerun replaces its own section and keeps the others.
    const sections = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split(/^(?=## )/m).slice(1) : [];
    const kept = sections.filter((s) => !s.startsWith(`## ${label}\n`)).map((s) => s.trimEnd() + '\n');
    writeFileAtomic(out, [`# aizoo-face-mask-ssd: measurements (bench/ssd-measure.ts)\n`, ...kept, text].join('\n'));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ssd-measure: ${(err as Error).message}\n`);
  process.exit(1);
});
