/**
 * How well the training recipe does on photos it has not seen, with more faces behind each figure than one validation
 * split holds: the photos outside the test split are dealt into K folds (by photo, duplicates together, stratified);
 * for each fold a model is trained with that fold as its validation split (early stopping, bias calibration) and the
 * other folds as training, then run end to end on that fold as the daemon runs it. Pooled, every non-test photo is
 * judged once, by a model that never trained on it. The test split is never touched, so a choice made on these
 * figures leaves the test split's report honest.
 */
import path from 'node:path';
import { writeFileAtomic } from '../../core/files.js';
import { createLogger } from '../../core/log.js';
import { detectorName, type DetectorSettings } from '../../vision/start-face-detector.js';
import type { TrainOptions } from '../train/options.js';
import { runTraining } from '../train/trainer.js';
import { doorReport, type DecisionRule, type DoorFace, type DoorReport } from './door-eval.js';
import { doorPng } from './door-report.js';
import { runDoorEvaluation } from './door-run.js';
import { doorMistakes, mistakesPng } from './mistakes-sheet.js';
import { rounded } from './metrics.js';

const log = createLogger('cross-validate');

export interface CrossValidationOptions {
  train: TrainOptions;
  folds: number;
  detector: DetectorSettings;
  stateDir: string | null;
  /** Decision rules (label fusion weight, tracker confidence) to report, the first one in full. */
  rules: DecisionRule[];
  minFace: number;
}

export interface CrossValidation {
  title: string;
  folds: Array<{ fold: number; model: string; photos: number; door: DoorReport['door'] }>;
  /** Every fold's validation faces together, one report per decision rule. */
  pooled: DoorReport[];
  json: string;
  png: string;
  /** The pooled door faces the first rule gets wrong, as pictures. */
  mistakes: string;
}

export async function crossValidate(o: CrossValidationOptions): Promise<CrossValidation> {
  if (!Number.isInteger(o.folds) || o.folds < 2 || o.folds > 20) throw new Error(`--cross-validate: a number of folds from 2 to 20, got ${o.folds}`);
  const faces: DoorFace[] = [];
  let photos = 0;
  let unmatched = 0;
  let ran = '';
  const photoFiles = new Map<string, string>();
  const folds: CrossValidation['folds'] = [];
  for (let index = 0; index < o.folds; index++) {
    const model = path.join(o.train.out, `fold-${index + 1}-of-${o.folds}`);
    log.info(`fold ${index + 1} of ${o.folds}: training ${model}`);
    await runTraining({ ...o.train, out: model, name: `${o.train.name}-fold-${index + 1}`, quantize: false, fold: { index, of: o.folds } });
    const evaluation = await runDoorEvaluation({ modelDir: model, precision: 'float', detector: o.detector, stateDir: o.stateDir, split: 'validation', minFace: o.minFace, rules: [o.rules[0]!], cacheDir: o.train.cacheDir, progress: o.train.progress });
    ran = detectorName(evaluation.detector);
    faces.push(...evaluation.run.faces);
    for (const [id, file] of evaluation.photoFiles) photoFiles.set(id, file);
    photos += evaluation.run.photos;
    unmatched += evaluation.run.unmatched;
    const door = evaluation.reports[0]!.door;
    folds.push({ fold: index + 1, model, photos: evaluation.run.photos, door });
    log.info(`fold ${index + 1}: door macro-F1 ${door.macroF1.toFixed(3)} on ${door.faces} faces; mask_incorrect ${door.perClass.mask_incorrect.correct}/${door.perClass.mask_incorrect.n}`);
  }
  const pooled = o.rules.map((rule) => doorReport({ faces, photos, unmatched }, o.minFace, rule));
  const title = `${o.train.name}, ${o.folds}-fold cross-validation (float classifier, ${ran}), the non-test photos`;
  const json = path.join(o.train.out, 'cross-validation.json');
  const png = path.join(o.train.out, 'cross-validation.png');
  writeFileAtomic(json, JSON.stringify(rounded({ title, folds, pooled, faces }), null, 2) + '\n');
  writeFileAtomic(png, await doorPng(title, pooled[0]!));
  const mistakes = path.join(o.train.out, 'cross-validation-mistakes.png');
  writeFileAtomic(mistakes, await mistakesPng(title, doorMistakes(faces, o.rules[0]!, o.minFace), (id) => photoFiles.get(id)!));
  return { title, folds, pooled, json, png, mistakes };
}
