/**
 * Train on what you serve: the daemon crops faces from the detector's boxes, so training and validation crops come from
 * the shipped detector's boxes too. Each photo is run through the detector (the one `run` builds, without its minimum
 * face size), each hand-drawn face is matched to a detection (greedy by IoU ≥ 0.3) and takes its box, keeping its label;
 * a hand-drawn face the detector misses keeps its own box as an extra crop. Detections are cached per photo
 * (cacheDir/detections-<detector>.json, keyed by path, size and mtime), so a second run does not detect again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, sha256File } from '../../core/files.js';
import { greedyMatch } from '../../core/geometry.js';
import { createLogger } from '../../core/log.js';
import type { Box } from '../../core/types.js';
import { createFaceDetector, resolveDetectorPrecision } from '../../vision/create-face-detector.js';
import { detectorName, type DetectorSettings, type ResolvedDetectorSettings } from '../../vision/start-face-detector.js';
import { readImageFile } from '../../vision/image-decode.js';
import { NESTED_SHARE } from '../../vision/ssd-decode.js';
import { shippedBoxCalibration, ssdModelFile } from '../../vision/ssd-detector.js';
import { createProgressBar } from '../progress.js';
import type { FaceSample } from './photos.js';

const log = createLogger('datasets');
export const DETECTOR_MATCH_IOU = 0.3;

export interface DetectorBoxSummary {
  detector: string;
  settings: DetectorSettings;
  photos: number;
  /** Hand-drawn faces that took a detector box. */
  matched: number;
  /** Hand-drawn faces the detector missed: their own box is kept. */
  kept: number;
  medianIou: number;
}

type Cache = Record<string, { stamp: string; boxes: Box[] }>;

function stampOf(file: string): string {
  const st = fs.statSync(file);
  return `${st.size}:${Math.round(st.mtimeMs)}`;
}

/** What identifies a detector's output: its model file's sha256 and every setting that changes the boxes. */
function cacheName(settings: ResolvedDetectorSettings): string {
  const file = settings.model === 'ssd' ? ssdModelFile(settings.precision) : null;
  const sha = file && fs.existsSync(file) ? sha256File(file).slice(0, 12) : settings.model;
  const cal = settings.model === 'ssd' ? Object.values(shippedBoxCalibration()).join('_') : 'none';
  return `detections-${settings.model}-${sha}-${settings.inputSize}-${settings.scoreThreshold ?? 'default'}-${settings.iouThreshold ?? 'default'}-cal${cal}-nested${settings.model === 'ssd' ? NESTED_SHARE : 'none'}.json`;
}

/** The samples with detector boxes in the chosen splits (others unchanged), and what happened. */
export async function withDetectorBoxes(samples: FaceSample[], inSplit: (s: FaceSample) => boolean, settings: DetectorSettings, cacheDir: string | null, progress = true): Promise<{ samples: FaceSample[]; summary: DetectorBoxSummary }> {
  // precision auto (cards written before the trainer resolved it): timed with 1 thread, as the daemon times it.
  const detectSettings = { ...(await resolveDetectorPrecision(settings, { intraOpNumThreads: 1 })).settings, minFaceSize: 0, maxFaces: 100 };
  const photos = [...new Set(samples.filter((s) => s.box && !s.synthetic && inSplit(s)).map((s) => s.file))].sort();
  const cacheFile = cacheDir ? path.join(cacheDir, cacheName(detectSettings)) : null;
  let cache: Cache = {};
  if (cacheFile && fs.existsSync(cacheFile)) {
    try {
      cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as Cache;
    } catch {
      log.warn(`${cacheFile}: unreadable; detecting again`);
    }
  }
  const boxesOf = new Map<string, Box[]>();
  const todo = photos.filter((f) => {
    const hit = cache[path.resolve(f)];
    if (hit && hit.stamp === stampOf(f)) boxesOf.set(f, hit.boxes);
    return !boxesOf.has(f);
  });
  if (todo.length) {
    const detector = await createFaceDetector(detectSettings, { intraOpNumThreads: 2 });
    const bar = progress ? createProgressBar('detector boxes', '{bar} {value}/{total} photos | ETA {eta_formatted}') : null;
    bar?.start(todo.length, 0);
    try {
      for (const [i, file] of todo.entries()) {
        const image = await readImageFile(file);
        const boxes = (await detector.detect({ ...image, seq: 0, capturedAt: 0 })).map((f) => f.box);
        boxesOf.set(file, boxes);
        cache[path.resolve(file)] = { stamp: stampOf(file), boxes };
        bar?.update(i + 1);
      }
    } finally {
      bar?.stop();
      await detector.close();
    }
    if (cacheFile) writeFileAtomic(cacheFile, JSON.stringify(cache));
  }
  let matched = 0;
  let kept = 0;
  const ious: number[] = [];
  const byFile = new Map<string, number[]>();
  samples.forEach((s, i) => {
    if (s.box && !s.synthetic && inSplit(s)) byFile.set(s.file, [...(byFile.get(s.file) ?? []), i]);
  });
  const out = [...samples];
  for (const [file, indices] of byFile) {
    const found = boxesOf.get(file) ?? [];
    const match = greedyMatch(indices.map((i) => samples[i]!.box!), found, DETECTOR_MATCH_IOU);
    indices.forEach((sampleIndex, k) => {
      const m = match.get(k);
      if (!m) return void kept++;
      matched++;
      ious.push(m.iou);
      const box = found[m.index]!;
      out[sampleIndex] = { ...samples[sampleIndex]!, box, faceSize: Math.min(box.w, box.h), boxFrom: 'detector' };
    });
  }
  ious.sort((a, b) => a - b);
  const summary = { detector: detectorName(settings), settings, photos: photos.length, matched, kept, medianIou: ious.length ? ious[ious.length >> 1]! : 0 };
  log.info(`detector boxes (${summary.detector}): ${matched} hand-drawn faces took a detector box (median IoU ${summary.medianIou.toFixed(2)}), ${kept} missed kept their own, on ${photos.length} photos`);
  return { samples: out, summary };
}
