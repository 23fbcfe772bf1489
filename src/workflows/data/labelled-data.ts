import { createLogger } from '../../core/log.js';
import { LABELS, type Label } from '../../core/types.js';
import { scanRoots, type DataRootSpec, type RootKind } from './datasets.js';
import type { DetectorSettings } from '../../vision/start-face-detector.js';
import { withDetectorBoxes, type DetectorBoxSummary } from './detector-boxes.js';
import { probePhotos, samplesOf, type FaceSample } from './photos.js';
import { SPLITS, splitPhotos, type SplitName, type SplitOptions } from './split.js';

/** Labelled data ready for training or evaluation: scanned, probed, split by photo. */
const log = createLogger('datasets');

export interface LabelledData {
  roots: Array<{ path: string; label?: Label; kind: RootKind; photos: number; skipped: Record<string, number> }>;
  samples: FaceSample[];
  splitOf: Map<string, SplitName>;
  badPictures: number;
  duplicateGroups: number;
}

export async function loadLabelledData(specs: DataRootSpec[], split: SplitOptions, cacheDir: string | null): Promise<LabelledData> {
  if (!specs.length) throw new Error('no data roots given (use --data ROOT)');
  const scanned = scanRoots(specs);
  const photos = scanned.flatMap((r) => r.photos);
  const { probes, bad } = await probePhotos(photos, cacheDir);
  if (bad) log.warn(`${bad} unreadable picture(s) left out`);
  const samples = samplesOf(photos, probes);
  if (!samples.length) throw new Error(`data roots ${specs.map((s) => s.path).join(', ')}: no labelled faces found`);
  const labelsOf = new Map<string, Label[]>();
  for (const s of samples) labelsOf.set(s.photoId, [...(labelsOf.get(s.photoId) ?? []), s.label]);
  const result = splitPhotos(
    [...labelsOf].map(([photoId, labels]) => ({ photoId, labels, hash: probes.get(photoId)?.hash })),
    split,
  );
  return {
    roots: scanned.map((r) => ({ path: r.spec.path, label: r.spec.label, kind: r.kind, photos: r.photos.length, skipped: r.skipped })),
    samples,
    splitOf: result.splitOf,
    badPictures: bad,
    duplicateGroups: result.duplicateGroups,
  };
}

/**
 * Labelled data as the trainer uses it: with a detector, the train and validation faces take its boxes
 * (detector-boxes.ts); test faces keep their hand-drawn boxes (the end-to-end evaluation runs the detector itself).
 */
export async function loadTrainingData(specs: DataRootSpec[], split: SplitOptions, cacheDir: string | null, detector: DetectorSettings | null, progress = true): Promise<LabelledData & { detectorBoxes: DetectorBoxSummary | null }> {
  const data = await loadLabelledData(specs, split, cacheDir);
  if (!detector) return { ...data, detectorBoxes: null };
  const fitted = await withDetectorBoxes(data.samples, (s) => data.splitOf.get(s.photoId) !== 'test', detector, cacheDir, progress);
  return { ...data, samples: fitted.samples, detectorBoxes: fitted.summary };
}

export function samplesIn(data: LabelledData, split: SplitName): FaceSample[] {
  return data.samples.filter((s) => data.splitOf.get(s.photoId) === split);
}

export type ClassCounts = Record<Label, number>;

export function countByLabel(samples: FaceSample[], minFace = 0): ClassCounts {
  const c = Object.fromEntries(LABELS.map((l) => [l, 0])) as ClassCounts;
  for (const s of samples) if (s.faceSize >= minFace) c[s.label]++;
  return c;
}

export function countsPerSplit(data: LabelledData, minFace = 0): Record<SplitName, ClassCounts> {
  return Object.fromEntries(SPLITS.map((sp) => [sp, countByLabel(samplesIn(data, sp), minFace)])) as Record<SplitName, ClassCounts>;
}
