import { writeFileAtomic } from '../../core/files.js';
import { ModelError } from '../../core/errors.js';
import { readModelCard, verifiedModelFile, type ModelCard } from '../../vision/model-card.js';
import type { DetectorSettings } from '../../vision/start-face-detector.js';
import { loadLabelledData, loadTrainingData, samplesIn, type LabelledData } from '../data/labelled-data.js';
import { parseDataSpec } from '../data/datasets.js';
import { classifySamples, scoreRun, type EvaluationResult } from './evaluate.js';
import { rounded } from './metrics.js';
import { evaluationPng } from './plots.js';
import { DEFAULT_SPLIT, SPLITS, type SplitName, type SplitOptions } from '../data/split.js';

/**
 * `maskwatch eval`: a model folder's ONNX classifier on labelled faces – by default its own held-out split,
 * recomputed from the data roots and split settings in its card; or every face of other data roots.
 */
export interface EvalOptions {
  model: string;
  data?: string[];
  split: SplitName;
  minFace: number;
  precision: 'float' | 'int8';
  json?: string;
  png?: string;
  cacheDir: string;
  progress: boolean;
}

export interface EvalReport {
  model: string;
  precision: 'float' | 'int8';
  data: string[];
  split: SplitName | 'all';
  minFace: number;
  result: EvaluationResult;
}

interface CardTraining {
  data?: Array<{ root: string }>;
  split?: { seed: number; fractions: [number, number, number]; duplicateDistance: number; fold?: { index: number; of: number } };
  detectorBoxes?: { settings: DetectorSettings } | null;
}

/** The data roots and split a model was trained with, from its card, loaded and split again the same way. */
/** `handBoxes`: the hand-drawn boxes even for a model trained on detector boxes (the end-to-end evaluation matches against them). */
export async function loadCardData(card: ModelCard, cacheDir: string | null, dir = card.name, instead = '--data ROOT', handBoxes = false): Promise<{ data: LabelledData; roots: string[]; split: SplitOptions }> {
  const training = (card.training ?? {}) as CardTraining;
  if (!training.data?.length || !training.split) throw new ModelError(`model ${dir}: its card names no training data, so give ${instead}`);
  const roots = training.data.map((d) => d.root);
  const split = { seed: training.split.seed, fractions: training.split.fractions, duplicateDistance: training.split.duplicateDistance, ...(training.split.fold ? { fold: training.split.fold } : {}) };
  // A model trained on detector boxes is calibrated and checked on them too (the same detector, recorded in its card).
  const detector = handBoxes ? null : (training.detectorBoxes?.settings ?? null);
  return { data: await loadTrainingData(roots.map(parseDataSpec), split, cacheDir, detector, false), roots, split };
}

export async function runEvaluation(opts: EvalOptions): Promise<EvalReport> {
  if (!SPLITS.includes(opts.split)) throw new Error(`--split: must be one of ${SPLITS.join(', ')}, got ${opts.split}`);
  const card = readModelCard(opts.model);
  const onnx = verifiedModelFile(opts.model, card, opts.precision);
  const { data, roots } = opts.data?.length ? { data: await loadLabelledData(opts.data.map(parseDataSpec), DEFAULT_SPLIT, opts.cacheDir), roots: opts.data } : await loadCardData(card, opts.cacheDir, opts.model);
  const samples = opts.data?.length ? data.samples : samplesIn(data, opts.split);
  if (!samples.length) throw new Error(`no faces to evaluate in ${roots.join(', ')}`);
  const run = await classifySamples(onnx, samples, { margin: card.cropMargin, inputSize: card.input.width, progress: opts.progress, title: 'eval' });
  const result = scoreRun(samples, run, opts.minFace);
  const report: EvalReport = { model: card.name, precision: opts.precision, data: roots, split: opts.data?.length ? 'all' : opts.split, minFace: opts.minFace, result };
  if (opts.json) writeFileAtomic(opts.json, JSON.stringify(rounded(report), null, 2) + '\n');
  if (opts.png) {
    const title = `${card.name} (${opts.precision}): ${report.split === 'all' ? 'all faces of ' + roots.join(', ') : report.split + ' split'}`;
    writeFileAtomic(opts.png, await evaluationPng(title, result.all, result.large, opts.minFace));
  }
  return report;
}
