/**
 * What the door sees, measured: photos with hand-drawn face boxes run through the detector and the classifier exactly as
 * the daemon runs them (one decoder, the detector's own size filter, the one face crop, the label fusion), each hand-drawn
 * face matched to at most one detection (greedy by IoU ≥ 0.3), and decided by the tracker's rule: the fused label when its
 * score reaches tracker.confidence, else undecided (no light, no event). Reported per class and per face-size band (the
 * face's width as a share of the photo's): detection recall, the label of matched faces, and an end-to-end macro-F1 in
 * which a face the detector missed, or left undecided, counts as wrong. Detections that match no hand-drawn face are counted, not scored (photos
 * are not always labelled completely).
 */
import { greedyMatch } from '../../core/geometry.js';
import { LABELS, type Box, type Label, type Probs } from '../../core/types.js';
import type { FaceDetector, MaskClassifier } from '../../core/seams.js';
import { fuseDetectorScores } from '../../decision/fuse-scores.js';
import { readImageFile } from '../../vision/image-decode.js';
import type { FaceSample } from '../data/photos.js';
import { createProgressBar } from '../progress.js';
import { bootstrapInterval, DEFAULT_BOOTSTRAP, wilsonInterval, type Interval } from './intervals.js';

export const MATCH_IOU = 0.3;

export const BANDS = [
  { name: '< 5 %', lo: 0, hi: 0.05 },
  { name: '5–10 %', lo: 0.05, hi: 0.1 },
  { name: '10–20 %', lo: 0.1, hi: 0.2 },
  { name: '20–40 %', lo: 0.2, hi: 0.4 },
  { name: '≥ 40 %', lo: 0.4, hi: Infinity },
] as const;
export type BandName = (typeof BANDS)[number]['name'];
/** Door distance: the bands the targets are set on. */
export const DOOR_BANDS: readonly BandName[] = ['10–20 %', '20–40 %'];

export interface DoorFace {
  photoId: string;
  label: Label;
  box: Box;
  /** Smaller side of the hand-drawn box, px. */
  faceSize: number;
  band: BandName;
  /** IoU with the matched detection; 0 when missed. */
  iou: number;
  /** The classifier's probabilities for the matched detection, and the detector's own Mask / NoMask scores; null when missed. */
  probs: Probs | null;
  detectorScores: { mask: number; noMask: number } | null;
}

export interface DoorRun {
  faces: DoorFace[];
  photos: number;
  /** Detections that matched no hand-drawn face. */
  unmatched: number;
}

export function bandOf(boxWidth: number, photoWidth: number): BandName {
  const share = boxWidth / photoWidth;
  return BANDS.find((b) => share >= b.lo && share < b.hi)!.name;
}

/** Runs detector + classifier on every photo that has hand-drawn boxes among `samples`. */
export async function runDoorEval(samples: FaceSample[], parts: { detector: FaceDetector; classifier: MaskClassifier; progress?: boolean; title?: string }): Promise<DoorRun> {
  const byPhoto = new Map<string, FaceSample[]>();
  for (const s of samples) if (s.box && !s.synthetic) byPhoto.set(s.file, [...(byPhoto.get(s.file) ?? []), s]);
  const faces: DoorFace[] = [];
  let unmatched = 0;
  const bar = parts.progress === false ? null : createProgressBar(parts.title ?? 'door eval', '{bar} {value}/{total} photos | ETA {eta_formatted}');
  bar?.start(byPhoto.size, 0);
  let done = 0;
  try {
    for (const [file, truth] of byPhoto) {
      const image = await readImageFile(file);
      const frame = { ...image, seq: 0, capturedAt: 0 };
      const detections = await parts.detector.detect(frame);
      const verdicts = detections.length ? await parts.classifier.classifyFaces(frame, detections.map((d) => d.box)) : [];
      const matchOf = greedyMatch(truth.map((t) => t.box!), detections.map((d) => d.box), MATCH_IOU);
      unmatched += detections.length - matchOf.size;
      truth.forEach((t, ti) => {
        const m = matchOf.get(ti);
        faces.push({
          photoId: t.photoId,
          label: t.label,
          box: t.box!,
          faceSize: t.faceSize,
          band: bandOf(t.box!.w, image.width),
          iou: m ? m.iou : 0,
          probs: m ? verdicts[m.index]!.probs : null,
          detectorScores: m ? (detections[m.index]!.detectorScores ?? null) : null,
        });
      });
      bar?.update(++done);
    }
  } finally {
    bar?.stop();
  }
  return { faces, photos: byPhoto.size, unmatched };
}

export interface ClassScore {
  n: number;
  detected: number;
  /** Detected, but no label reached the confidence: no light. */
  undecided: number;
  /** Detected with the right label. */
  correct: number;
  /** detected / n */
  detectionRecall: number;
  /** Right label among the detected faces. */
  labelAccuracy: number;
  /** Detected with the right label / n. */
  recall: number;
  precision: number;
  f1: number;
}

export interface DoorScore {
  faces: number;
  perClass: Record<Label, ClassScore>;
  /** Over the classes present; a missed face counts as wrong. */
  macroF1: number;
  /** Rows: true label; columns: predicted label, then `missed`, then `undecided`. */
  confusion: number[][];
}

/** How the daemon turns a face's scores into a light: the label fusion weight and the tracker's confidence. */
export interface DecisionRule {
  /** classifier.detectorScoreWeight */
  fusionWeight: number;
  /** tracker.confidence: the score the best label needs; below it the person stays undecided. 0: always the best label. */
  confidence: number;
}

export const ARGMAX: DecisionRule = { fusionWeight: 0, confidence: 0 };

/**
 * What the daemon would show for a face: the fused best label when it reaches the confidence, 'undecided' when not,
 * 'missed' when the detector did not find it. A still face gives the same scores in every frame, so the tracker's
 * median over its window is this one frame's score.
 */
export function verdictOf(face: DoorFace, rule: DecisionRule): Label | 'missed' | 'undecided' {
  if (!face.probs) return 'missed';
  const probs = fuseDetectorScores(face.probs, face.detectorScores, rule.fusionWeight);
  const best = LABELS.reduce((a, b) => (probs[b] > probs[a] ? b : a));
  return probs[best] >= rule.confidence ? best : 'undecided';
}

export function scoreDoor(faces: DoorFace[], rule: DecisionRule = ARGMAX): DoorScore {
  const k = LABELS.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k + 2).fill(0));
  for (const f of faces) {
    const v = verdictOf(f, rule);
    confusion[LABELS.indexOf(f.label)]![v === 'missed' ? k : v === 'undecided' ? k + 1 : LABELS.indexOf(v)]!++;
  }
  const perClass = {} as Record<Label, ClassScore>;
  const f1s: number[] = [];
  LABELS.forEach((label, c) => {
    const row = confusion[c]!;
    const n = row.reduce((a, b) => a + b, 0);
    const detected = n - row[k]!;
    const undecided = row[k + 1]!;
    const tp = row[c]!;
    const predicted = confusion.reduce((a, r) => a + r[c]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = n ? tp / n : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[label] = { n, detected, undecided, correct: tp, detectionRecall: n ? detected / n : 0, labelAccuracy: detected ? tp / detected : 0, recall, precision, f1 };
    if (n > 0 || predicted > 0) f1s.push(f1);
  });
  return { faces: faces.length, perClass, macroF1: f1s.length ? f1s.reduce((a, b) => a + b, 0) / f1s.length : 0, confusion };
}

export interface DoorReport {
  photos: number;
  unmatchedDetections: number;
  minFace: number;
  fusionWeight: number;
  confidence: number;
  /** Faces ≥ minFace px at door distance (10–40 % of the photo width): the targets. */
  door: DoorScore;
  /** How far the door figures can be trusted with so few faces (intervals.ts). */
  doorIntervals: DoorIntervals;
  bands: Array<{ band: BandName; all: DoorScore; large: DoorScore }>;
  all: DoorScore;
}

export interface DoorIntervals {
  level: number;
  /** Per class, Wilson score intervals of the detection recall and the end-to-end recall. */
  perClass: Record<Label, { detectionRecall: Interval; recall: Interval }>;
  /** Percentile bootstrap over the photos that hold door faces, each photo drawn whole. */
  macroF1: Interval;
  photos: number;
  resamples: number;
}

function doorIntervals(faces: DoorFace[], score: DoorScore, rule: DecisionRule): DoorIntervals {
  const byPhoto = new Map<string, DoorFace[]>();
  for (const f of faces) byPhoto.set(f.photoId, [...(byPhoto.get(f.photoId) ?? []), f]);
  const perClass = {} as DoorIntervals['perClass'];
  for (const label of LABELS) {
    const c = score.perClass[label];
    perClass[label] = { detectionRecall: wilsonInterval(c.detected, c.n), recall: wilsonInterval(c.correct, c.n) };
  }
  const macroF1 = bootstrapInterval([...byPhoto.values()], (items) => scoreDoor(items, rule).macroF1);
  return { level: DEFAULT_BOOTSTRAP.level, perClass, macroF1, photos: byPhoto.size, resamples: DEFAULT_BOOTSTRAP.resamples };
}

export function doorReport(run: DoorRun, minFace: number, rule: DecisionRule): DoorReport {
  const large = run.faces.filter((f) => f.faceSize >= minFace);
  const doorFaces = large.filter((f) => DOOR_BANDS.includes(f.band));
  const door = scoreDoor(doorFaces, rule);
  return {
    photos: run.photos,
    unmatchedDetections: run.unmatched,
    minFace,
    fusionWeight: rule.fusionWeight,
    confidence: rule.confidence,
    door,
    doorIntervals: doorIntervals(doorFaces, door, rule),
    bands: BANDS.map((b) => ({ band: b.name, all: scoreDoor(run.faces.filter((f) => f.band === b.name), rule), large: scoreDoor(large.filter((f) => f.band === b.name), rule) })),
    all: scoreDoor(run.faces, rule),
  };
}

/** Every fusion weight with every confidence, the first of each first (the daemon's, when those come first). */
export function decisionRules(fusionWeights: number[], confidences: number[]): DecisionRule[] {
  return fusionWeights.flatMap((fusionWeight) => confidences.map((confidence) => ({ fusionWeight, confidence })));
}
