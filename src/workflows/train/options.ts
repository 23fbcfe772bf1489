import fs from 'node:fs';
import { HEAD_POOLS, type HeadPool } from '../export/head-pool.js';

/** Options of `maskwatch train`, from flags and/or a JSON config file (same names). */
export interface TrainOptions {
  /** Data roots: "path" or "path=label" (a flat folder of one label). */
  data: string[];
  synthDir?: string;
  out: string;
  /** TF.js layers MobileNetV2 base (no top). */
  base: string;
  inputSize: number;
  epochs: number;
  seed: number;
  margin: number;
  /** Augmented copies per training crop (on top of the plain crop). */
  augment: number;
  cacheDir: string;
  split: [number, number, number];
  duplicateDistance: number;
  batchSize: number;
  learningRate: number;
  patience: number;
  hidden: number;
  dropout: number;
  /** Minority classes are oversampled (extra augmented copies) up to this fraction of the largest class. */
  balance: number;
  maxCopies: number;
  minFace: number;
  /** Tune a mask_incorrect logit offset on validation macro-F1 (folded into the last Dense bias). */
  calibrateBias: boolean;
  /** Train and validation crops from the shipped detector's boxes (the config's detector.*), matched to the hand-drawn ones. */
  detectorBoxes: boolean;
  /** Quantize to int8 when the quantizer is available. */
  quantize: boolean;
  calibrationCount: number;
  /** Last inverted-residual blocks (+ Conv_1) trained with the head after it; 0: frozen base. */
  fineTuneBlocks: number;
  /** How the head pools the base's feature map (head-pool.ts). */
  pool: HeadPool;
  fineTuneEpochs: number;
  /** Learning rate of the fine-tuned base layers (the head gets 3× it). */
  fineTuneLearningRate: number;
  name: string;
  progress: boolean;
  /** Cross-validation (cross-validate.ts): this fold of the non-test photos is the validation split. */
  fold?: { index: number; of: number };
}

export const TRAIN_DEFAULTS: TrainOptions = {
  data: [],
  out: 'models/maskwatch-custom',
  base: 'models/mobilenet_v2_0.35_224',
  inputSize: 224,
  epochs: 60,
  seed: 42,
  margin: 0.15,
  augment: 2,
  cacheDir: '.cache/features',
  split: [0.7, 0.15, 0.15],
  duplicateDistance: 3,
  batchSize: 64,
  learningRate: 0.001,
  patience: 12,
  hidden: 128,
  dropout: 0.5,
  balance: 0.5,
  maxCopies: 24,
  minFace: 32,
  calibrateBias: true,
  detectorBoxes: true,
  quantize: true,
  calibrationCount: 200,
  fineTuneBlocks: 0,
  pool: 'global',
  fineTuneEpochs: 12,
  fineTuneLearningRate: 0.0001,
  name: 'maskwatch-custom',
  progress: true,
};

const NUMBER_KEYS = ['inputSize', 'epochs', 'seed', 'margin', 'augment', 'duplicateDistance', 'batchSize', 'learningRate', 'patience', 'hidden', 'dropout', 'balance', 'maxCopies', 'minFace', 'calibrationCount', 'fineTuneBlocks', 'fineTuneEpochs', 'fineTuneLearningRate'] as const;

/** Reads a JSON config of train options; unknown keys are an error (a typo would silently change nothing). */
export function readTrainConfig(file: string): Partial<TrainOptions> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`train config ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const known = new Set(Object.keys(TRAIN_DEFAULTS).concat(['synthDir', '$comment']));
  for (const key of Object.keys(json)) if (!known.has(key)) throw new Error(`train config ${file}: unknown option "${key}"`);
  delete json.$comment;
  return json as Partial<TrainOptions>;
}

export function validateTrainOptions(o: TrainOptions): TrainOptions {
  for (const key of NUMBER_KEYS) if (typeof o[key] !== 'number' || !Number.isFinite(o[key])) throw new Error(`train option ${key}: must be a number, got ${JSON.stringify(o[key])}`);
  if (!Array.isArray(o.data) || !o.data.length || o.data.some((d) => typeof d !== 'string')) throw new Error('train option data: give at least one data root (--data ROOT)');
  if (o.inputSize < 32 || o.inputSize % 32 !== 0) throw new Error(`train option inputSize: must be a multiple of 32, got ${o.inputSize}`);
  if (o.margin < 0 || o.margin > 1) throw new Error(`train option margin: must be between 0 and 1, got ${o.margin}`);
  for (const key of ['epochs', 'batchSize'] as const) if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`train option ${key}: must be a whole number ≥ 1, got ${o[key]}`);
  if (!Number.isInteger(o.augment) || o.augment < 0) throw new Error(`train option augment: must be a whole number ≥ 0, got ${o.augment}`);
  if (!Number.isInteger(o.fineTuneBlocks) || o.fineTuneBlocks < 0 || o.fineTuneBlocks > 3) throw new Error(`train option fineTuneBlocks: must be 0..3, got ${o.fineTuneBlocks}`);
  if (!(HEAD_POOLS as readonly string[]).includes(o.pool)) throw new Error(`train option pool: must be one of ${HEAD_POOLS.join(', ')}, got ${JSON.stringify(o.pool)}`);
  if (!Array.isArray(o.split) || o.split.length !== 3) throw new Error(`train option split: three fractions (train, validation, test), got ${JSON.stringify(o.split)}`);
  return o;
}
