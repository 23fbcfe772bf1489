/**
 * `maskwatch eval` end to end: a model folder's classifier with the configured detector on the photos of its own held-out
 * split (recomputed from the data roots and split in its card), or on every photo of other Pascal VOC roots.
 */
import { writeFileAtomic } from '../../core/files.js';
import { ModelError } from '../../core/errors.js';
import { createFaceDetector, resolveDetectorPrecision } from '../../vision/create-face-detector.js';
import { detectorName, type DetectorSettings, type ResolvedDetectorSettings } from '../../vision/start-face-detector.js';
import { createMaskClassifier } from '../../vision/mask-classifier.js';
import { readModelCard } from '../../vision/model-card.js';
import { loadLabelledData, samplesIn } from '../data/labelled-data.js';
import { parseDataSpec } from '../data/datasets.js';
import { DEFAULT_SPLIT, SPLITS, type SplitName } from '../data/split.js';
import { doorReport, runDoorEval, type DecisionRule, type DoorReport, type DoorRun } from './door-eval.js';
import { doorPng } from './door-report.js';
import { loadCardData } from './eval-run.js';
import { doorMistakes, mistakesPng } from './mistakes-sheet.js';
import { rounded } from './metrics.js';

export interface DoorEvalOptions {
  modelDir: string;
  precision: 'float' | 'int8';
  detector: DetectorSettings;
  data?: string[];
  split: SplitName;
  minFace: number;
  /** How scores become a light (label fusion weight, tracker confidence): one report each, the first in the JSON and PNG. */
  rules: DecisionRule[];
  json?: string;
  png?: string;
  /** A PNG of the door faces the first rule gets wrong (mistakes-sheet.ts). */
  mistakes?: string;
  cacheDir: string;
  progress: boolean;
  /** Where precision auto keeps its choice (the config's stateDir), so eval runs the detector file the daemon runs. */
  stateDir?: string | null;
}

export interface DoorEvaluation {
  title: string;
  run: DoorRun;
  /** One report per decision rule asked for, in that order. */
  reports: DoorReport[];
  /** The detector as it ran (precision auto resolved). */
  detector: ResolvedDetectorSettings;
  /** Each evaluated face's photo file, by photoId. */
  photoFiles: Map<string, string>;
}

export async function runDoorEvaluation(o: DoorEvalOptions): Promise<DoorEvaluation> {
  if (!SPLITS.includes(o.split)) throw new Error(`--split: must be one of ${SPLITS.join(', ')}, got ${o.split}`);
  const card = readModelCard(o.modelDir);
  const { data, roots } = o.data?.length ? { data: await loadLabelledData(o.data.map(parseDataSpec), DEFAULT_SPLIT, o.cacheDir), roots: o.data } : await loadCardData(card, o.cacheDir, o.modelDir, '--data ROOT', true);
  const samples = (o.data?.length ? data.samples : samplesIn(data, o.split)).filter((s) => s.box && !s.synthetic);
  if (!samples.length) throw new ModelError(`no photos with hand-drawn face boxes to evaluate in ${roots.join(', ')} (the end-to-end evaluation needs Pascal VOC photos; --crops evaluates face crops)`);
  // Resolved as the daemon resolves it (1 thread, the cached choice): measured afresh here, a close race could pick the
  // other file from one run to the next and change the figures.
  const { settings } = await resolveDetectorPrecision(o.detector, { stateDir: o.stateDir ?? null });
  const detector = await createFaceDetector(settings, { intraOpNumThreads: 2 });
  const classifier = await createMaskClassifier({ modelDir: o.modelDir, precision: o.precision });
  let run: DoorRun;
  try {
    run = await runDoorEval(samples, { detector, classifier, progress: o.progress, title: 'eval' });
  } finally {
    await detector.close();
    await classifier.close();
  }
  const where = o.data?.length ? `all photos of ${roots.join(', ')}` : `${o.split} split`;
  const title = `${card.name} (${classifier.info.precision}) with ${detectorName(settings)}, ${where}`;
  const reports = o.rules.map((rule) => doorReport(run, o.minFace, rule));
  if (o.json) writeFileAtomic(o.json, JSON.stringify(rounded({ title, model: card.name, precision: classifier.info.precision, detector: settings, data: roots, split: o.data?.length ? 'all' : o.split, reports }), null, 2) + '\n');
  if (o.png) writeFileAtomic(o.png, await doorPng(title, reports[0]!));
  const photoFiles = new Map(samples.map((s) => [s.photoId, s.file]));
  if (o.mistakes) writeFileAtomic(o.mistakes, await mistakesPng(title, doorMistakes(run.faces, o.rules[0]!, o.minFace), (id) => photoFiles.get(id)!));
  return { title, run, reports, detector: settings, photoFiles };
}
