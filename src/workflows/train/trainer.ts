import type * as TF from '@tensorflow/tfjs';
import path from 'node:path';
import { labelIndex } from '../../core/labels.js';
import { createLogger } from '../../core/log.js';
import { LABELS, type Label } from '../../core/types.js';
import { AUGMENT_RECIPE, AUGMENT_VERSION } from './augment.js';
import { loadBaseModel, resolveBase, type BaseInfo } from './base.js';
import { loadConfig } from '../../config/load.js';
import { resolveDetectorPrecision } from '../../vision/create-face-detector.js';
import type { ResolvedDetectorSettings } from '../../vision/start-face-detector.js';
import { countByLabel, countsPerSplit, loadTrainingData, samplesIn, type LabelledData } from '../data/labelled-data.js';
import { parseDataSpec } from '../data/datasets.js';
import { extractFeatures, type FeatureJob, type FeatureOptions } from './features.js';
import { addClassBias, loadTf, predictRows, trainHead, tuneClassBias, type BiasCalibration, type HeadTrainResult } from './head.js';
import { writeModelDir, type ModelDirResult } from './model-dir.js';
import type { TrainOptions } from './options.js';
import type { FaceSample } from '../data/photos.js';
import { readSynthetic, type SyntheticResult } from '../data/synthetic.js';
import { buildTail, copyTailIntoBase, disposeTail, fineTuneTail, predictTail, resolveCutBase } from './finetune.js';
import { HEAD_LAYERS } from './mobilenet.js';

/**
 * `maskwatch train`: data → split by photo → (synthetic crops for training) → augmented copies + oversampled
 * minority → cached base features (ONNX Runtime) → head (TF.js) → full classifier → ONNX (+ int8) → model dir.
 */
const log = createLogger('train');

export interface TrainingPlan {
  jobs: FeatureJob[];
  /** Crops per label after augmentation and oversampling. */
  counts: Record<Label, number>;
  copiesPerCrop: Record<Label, number>;
}

/**
 * Every training crop k = 0..augment; minority classes of the REAL crops topped up with more augmented copies
 * (synthetic crops get the plain augment + 1, so a real rare face is not drowned by synthetic ones).
 */
export function planTrainingJobs(train: FaceSample[], opts: Pick<TrainOptions, 'augment' | 'balance' | 'maxCopies'>): TrainingPlan {
  const real = countByLabel(train.filter((s) => !s.synthetic));
  const base = opts.augment + 1;
  const largest = Math.max(...LABELS.map((l) => real[l] * base));
  const copiesPerCrop = {} as Record<Label, number>;
  for (const l of LABELS) {
    const wanted = real[l] ? Math.ceil((opts.balance * largest) / real[l]) : base;
    copiesPerCrop[l] = Math.max(base, Math.min(Math.max(base, opts.maxCopies), wanted));
  }
  const jobs: FeatureJob[] = [];
  for (const sample of train) {
    const copies = sample.synthetic ? base : copiesPerCrop[sample.label];
    for (let k = 0; k < copies; k++) jobs.push({ sample, aug: k });
  }
  const counts = Object.fromEntries(LABELS.map((l) => [l, jobs.filter((j) => j.sample.label === l).length])) as Record<Label, number>;
  return { jobs, counts, copiesPerCrop };
}

/** Rows of the same crop, drawn copies/(augment+1) times per epoch: epochs stay the size of the data, variants rotate. */
export function epochGroups(plan: TrainingPlan, augment: number): Array<{ rows: number[]; draws: number }> {
  const byCrop = new Map<string, number[]>();
  plan.jobs.forEach((j, i) => {
    const rows = byCrop.get(j.sample.id) ?? [];
    rows.push(i);
    byCrop.set(j.sample.id, rows);
  });
  return [...byCrop.values()].map((rows) => ({ rows, draws: Math.max(1, Math.round(rows.length / (augment + 1))) }));
}

/** sklearn's "balanced" weights: n / (classes · n_c), on the crops actually trained on. */
export function balancedClassWeights(counts: Record<Label, number>): number[] {
  const n = LABELS.reduce((a, l) => a + counts[l], 0);
  return LABELS.map((l) => (counts[l] ? n / (LABELS.length * counts[l]) : 1));
}

/**
 * Second stage of --fine-tune-blocks N: activations at the input of the last N blocks (cached like the pooled
 * features, keyed by the truncated base's sha256), then those blocks + Conv_1 + the trained head fitted together.
 */
async function fineTuneTop(opts: TrainOptions, base: BaseInfo, featureOpts: FeatureOptions, plan: TrainingPlan, validation: FaceSample[], head: TF.LayersModel, classWeights: number[]) {
  const cut = await resolveCutBase(base, opts.fineTuneBlocks, opts.cacheDir);
  const cutOpts = { ...featureOpts, baseOnnx: cut.onnx, baseSha256: cut.onnxSha256 };
  const trainC = await extractFeatures(plan.jobs, cutOpts);
  const valC = await extractFeatures(validation.map((sample) => ({ sample, aug: 0 })), cutOpts);
  const tf = await loadTf();
  const baseModel = await loadBaseModel(base);
  const tail = await buildTail(baseModel, opts.fineTuneBlocks, head, opts.pool);
  baseModel.dispose();
  const result = await fineTuneTail(
    tail,
    { x: trainC, y: plan.jobs.map((j) => labelIndex(j.sample.label)), groups: epochGroups(plan, opts.augment) },
    { x: valC, y: validation.map((s) => labelIndex(s.label)) },
    { seed: opts.seed, epochs: opts.fineTuneEpochs, patience: Math.min(opts.patience, 4), batchSize: opts.batchSize, learningRate: opts.fineTuneLearningRate, classWeights, progress: opts.progress },
  );
  return {
    tail,
    head: tail.head,
    result,
    cutLayer: cut.layer,
    valProbs: () => predictTail(tf, tail, valC),
    copyInto: (full: TF.LayersModel) => copyTailIntoBase(tf, tail, full),
  };
}

export interface TrainingOutcome {
  out: string;
  data: LabelledData;
  synthetic: SyntheticResult | null;
  head: HeadTrainResult;
  model: ModelDirResult;
  seconds: number;
}

/**
 * The detector the daemon runs by default (the config schema's detector.* defaults), with precision auto resolved as
 * the daemon resolves it (1 thread, the choice cached in stateDir): timed afresh, a close race could give the crops of
 * one training run the float SSD's boxes and the next run the int8 one's.
 */
async function shippedDetector(): Promise<ResolvedDetectorSettings> {
  const { config } = loadConfig({ env: {} });
  return (await resolveDetectorPrecision(config.detector, { stateDir: config.stateDir })).settings;
}

export async function runTraining(opts: TrainOptions): Promise<TrainingOutcome> {
  const started = Date.now();
  const specs = opts.data.map(parseDataSpec);
  const splitOptions = { seed: opts.seed, fractions: opts.split, duplicateDistance: opts.duplicateDistance, ...(opts.fold ? { fold: opts.fold } : {}) };
  const data = await loadTrainingData(specs, splitOptions, opts.cacheDir, opts.detectorBoxes ? await shippedDetector() : null, opts.progress);
  const perSplit = countsPerSplit(data);
  log.info(`faces per split: ${JSON.stringify(perSplit)} (${data.duplicateGroups} duplicate groups kept together)`);
  const train = samplesIn(data, 'train');
  const validation = samplesIn(data, 'validation');
  const test = samplesIn(data, 'test');
  if (!train.length || !validation.length) throw new Error('the split left no training or no validation faces; give more data');

  const synthetic = opts.synthDir ? await readSynthetic(opts.synthDir, data.splitOf, opts.cacheDir) : null;
  const trainAll = synthetic ? train.concat(synthetic.samples) : train;
  const plan = planTrainingJobs(trainAll, opts);
  const classWeights = balancedClassWeights(plan.counts);
  log.info(`training crops after augmentation: ${JSON.stringify(plan.counts)}; copies per crop ${JSON.stringify(plan.copiesPerCrop)}; class weights ${classWeights.map((w) => w.toFixed(3)).join(', ')}`);

  const base: BaseInfo = await resolveBase(opts.base, opts.inputSize, opts.cacheDir, opts.pool);
  const featureOpts = { baseOnnx: base.onnx, baseSha256: base.onnxSha256, inputSize: opts.inputSize, margin: opts.margin, cacheDir: opts.cacheDir, progress: opts.progress };
  const trainX = await extractFeatures(plan.jobs, featureOpts);
  const valX = await extractFeatures(validation.map((sample) => ({ sample, aug: 0 })), featureOpts);

  const head = await trainHead(
    { x: trainX, y: plan.jobs.map((j) => labelIndex(j.sample.label)), groups: epochGroups(plan, opts.augment) },
    { x: valX, y: validation.map((s) => labelIndex(s.label)) },
    {
      seed: opts.seed,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      learningRate: opts.learningRate,
      patience: opts.patience,
      classWeights,
      hidden: opts.hidden,
      dropout: opts.dropout,
      progress: opts.progress,
    },
  );

  const tuned = opts.fineTuneBlocks > 0 ? await fineTuneTop(opts, base, featureOpts, plan, validation, head.head, classWeights) : null;
  const finalHead = head.head; // fine-tuning trains this head in place

  let biasCalibration: BiasCalibration | null = null;
  if (opts.calibrateBias) {
    const tf = await loadTf();
    const valY = validation.map((s) => labelIndex(s.label));
    biasCalibration = tuneClassBias(tuned ? tuned.valProbs() : predictRows(tf, head.head, valX), valY, labelIndex('mask_incorrect'));
    addClassBias(tf, finalHead, HEAD_LAYERS.probs, labelIndex('mask_incorrect'), biasCalibration.offset);
    log.info(`mask_incorrect logit offset ${biasCalibration.offset} (validation macro-F1 ${biasCalibration.valMacroF1Before.toFixed(3)} → ${biasCalibration.valMacroF1After.toFixed(3)})`);
  }

  const training = {
    data: data.roots.map((r) => ({ root: r.label ? `${r.path}=${r.label}` : r.path, kind: r.kind, photos: r.photos, skipped: r.skipped })),
    badPictures: data.badPictures,
    detectorBoxes: data.detectorBoxes,
    split: { seed: opts.seed, fractions: opts.split, by: 'photo, stratified by the rarest label in the photo', duplicateDistance: opts.duplicateDistance, duplicateGroups: data.duplicateGroups, ...(opts.fold ? { fold: opts.fold } : {}) },
    counts: perSplit,
    countsMinFace: { minFace: opts.minFace, ...countsPerSplit(data, opts.minFace) },
    synthetic: synthetic
      ? {
          dir: opts.synthDir,
          used: countByLabel(synthetic.samples),
          offered: synthetic.offered,
          droppedHeldOutSource: synthetic.droppedHeldOutSource,
          droppedUnknownSource: synthetic.droppedUnknownSource,
          droppedBad: synthetic.droppedBad,
        }
      : null,
    augmentation: { version: AUGMENT_VERSION, copiesPerCrop: plan.copiesPerCrop, trainedCrops: plan.counts, recipe: AUGMENT_RECIPE, tool: 'sharp' },
    classWeights: Object.fromEntries(LABELS.map((l, i) => [l, Number(classWeights[i].toFixed(4))])),
    head: { pool: opts.pool, hidden: opts.hidden, dropout: opts.dropout, optimizer: 'adam', learningRate: opts.learningRate, batchSize: opts.batchSize },
    epochs: { max: opts.epochs, run: head.epochsRun, best: head.bestEpoch, patience: opts.patience, earlyStopping: 'validation macro-F1' },
    history: head.history.map((h) => ({ epoch: h.epoch, loss: +h.loss.toFixed(5), valLoss: +(h.valLoss ?? NaN).toFixed(5), valMacroF1: +h.valMacroF1.toFixed(4) })),
    biasCalibration: biasCalibration ? { ...biasCalibration, tunedOn: 'validation macro-F1, kept only if it gains ≥ 0.01' } : null,
    seed: opts.seed,
    headSeconds: +head.seconds.toFixed(1),
    fineTune: tuned
      ? {
          blocks: opts.fineTuneBlocks,
          cutAt: tuned.cutLayer,
          layers: 'last blocks + Conv_1, BatchNormalization folded (frozen statistics)',
          learningRate: { base: opts.fineTuneLearningRate, head: opts.fineTuneLearningRate * 3 },
          epochs: { max: opts.fineTuneEpochs, run: tuned.result.epochsRun, best: tuned.result.bestEpoch },
          valMacroF1: { before: +tuned.result.startMacroF1.toFixed(4), after: +tuned.result.bestMacroF1.toFixed(4) },
          history: tuned.result.history.map((h) => ({ epoch: h.epoch, loss: +h.loss.toFixed(5), valMacroF1: +h.valMacroF1.toFixed(4) })),
          seconds: +tuned.result.seconds.toFixed(1),
        }
      : null,
  };
  const model = await writeModelDir({
    out: opts.out,
    name: opts.name || path.basename(opts.out),
    opts,
    base,
    head: finalHead,
    adjustBase: tuned?.copyInto,
    // Epoch 0 best: validation kept the weights as they were, so the card says the base is frozen.
    fineTunedBlocks: tuned && tuned.result.bestEpoch > 0 ? opts.fineTuneBlocks : 0,
    validation,
    test,
    calibrationPool: train,
    training,
    started,
  });
  if (tuned) disposeTail(tuned.tail);
  const seconds = (Date.now() - started) / 1000;
  log.info(`model ${opts.out} written in ${seconds.toFixed(0)} s`);
  return { out: opts.out, data, synthetic, head, model, seconds };
}
