import fs from 'node:fs';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { makeDirs, writeFileAtomic } from '../../core/files.js';
import { createLogger } from '../../core/log.js';
import { LABELS } from '../../core/types.js';
import { fileEntry, writeModelCard, type ModelCard } from '../../vision/model-card.js';
import { loadBaseModel, type BaseInfo } from './base.js';
import { classifySamples, compareRuns, scoreRun, type EvaluationResult } from '../eval/evaluate.js';
import { rounded, type Metrics } from '../eval/metrics.js';
import type { TrainOptions } from './options.js';
import type { FaceSample } from '../data/photos.js';
import { evaluationPng } from '../eval/plots.js';
import { quantizeStep } from '../quantize/quantize-step.js';
import { buildClassifier, copyHeadWeights } from './mobilenet.js';
import { layersModelToOnnx } from '../../onnx/layers-export.js';
import { checkOnnxAgainstTfjs } from '../../onnx/export-check.js';
import { saveLayersModelToDir } from '../export/tfjs-model-dir.js';

/**
 * Assembles the full classifier (base + trained head), exports it to ONNX, checks ONNX Runtime against TF.js,
 * evaluates it on validation and test, quantizes it (quantize-step.ts), and writes the model folder:
 * all into a temporary sibling folder that is renamed into place at the end, so there is never a half-written one.
 */
const log = createLogger('train');
const MAX_EXPORT_DIFF = 1e-4;

export interface ModelDirInput {
  out: string;
  name: string;
  opts: TrainOptions;
  base: BaseInfo;
  head: TF.LayersModel;
  /** Writes fine-tuned base layers into the full base before the head is put on it. */
  adjustBase?: (base: TF.LayersModel) => void;
  fineTunedBlocks?: number;
  validation: FaceSample[];
  test: FaceSample[];
  calibrationPool: FaceSample[];
  training: Record<string, unknown>;
  started: number;
}

export interface ModelDirResult {
  card: ModelCard;
  validation: EvaluationResult;
  test: EvaluationResult;
  exportMaxDiff: number;
  int8: ReturnType<typeof compareRuns> | null;
}

function summary(r: EvaluationResult): { all: Metrics; minFace: number; large: Metrics } {
  return rounded({ all: r.all, minFace: r.minFace, large: r.large });
}

export async function writeModelDir(input: ModelDirInput): Promise<ModelDirResult> {
  const { opts, base } = input;

  const baseModel = await loadBaseModel(base);
  input.adjustBase?.(baseModel);
  const classifier = buildClassifier(baseModel, { inputSize: opts.inputSize, hidden: opts.hidden, dropout: opts.dropout, classes: LABELS.length, seed: opts.seed, pool: opts.pool });
  copyHeadWeights(input.head, classifier);
  const floatBytes = layersModelToOnnx(classifier, { name: input.name, inputName: 'input', outputName: 'probs' });
  const check = await checkOnnxAgainstTfjs(classifier, floatBytes, 2, opts.seed);
  if (!(check.maxAbsDiff <= MAX_EXPORT_DIFF)) throw new Error(`export check: ONNX Runtime and TF.js differ by ${check.maxAbsDiff.toExponential(2)} (> ${MAX_EXPORT_DIFF}); model not written`);
  log.info(`export check: max |ONNX − TF.js| = ${check.maxAbsDiff.toExponential(2)} on 2 random inputs`);

  const out = path.resolve(input.out);
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  makeDirs(tmp);
  try {
    writeFileAtomic(path.join(tmp, 'classifier.onnx'), floatBytes);
    await saveLayersModelToDir(classifier, path.join(tmp, 'tfjs'));
    const evalOpts = { margin: opts.margin, inputSize: opts.inputSize, progress: opts.progress };
    const valRun = await classifySamples(floatBytes, input.validation, { ...evalOpts, title: 'validation' });
    const testRun = await classifySamples(floatBytes, input.test, { ...evalOpts, title: 'test' });
    const validation = scoreRun(input.validation, valRun, opts.minFace);
    const test = scoreRun(input.test, testRun, opts.minFace);

    let int8: ReturnType<typeof compareRuns> | null = null;
    let quantization: Record<string, unknown> | undefined;
    if (!opts.quantize) log.info('quantization: turned off');
    else {
      const q = await quantizeStep({ floatBytes, training: input.calibrationPool, validation: input.validation, test: input.test, testFloat: testRun, opts });
      writeFileAtomic(path.join(tmp, 'classifier.int8.onnx'), q.model);
      int8 = q.int8;
      quantization = q.record;
    }

    const evalJson = {
      model: input.name,
      split: 'test',
      precision: 'float',
      minFace: opts.minFace,
      test: summary(test),
      validation: summary(validation),
      int8: int8 ? rounded({ labelAgreementPct: int8.labelAgreementPct, labelAgreementPctLarge: int8.labelAgreementPctLarge, macroF1Delta: int8.macroF1Delta, macroF1DeltaLarge: int8.macroF1DeltaLarge, test: summary(int8.int8) }) : null,
    };
    writeFileAtomic(path.join(tmp, 'eval.json'), JSON.stringify(evalJson, null, 2) + '\n');
    writeFileAtomic(path.join(tmp, 'eval.png'), await evaluationPng(`${input.name}: held-out test split (float)`, test.all, test.large, opts.minFace));

    const card: ModelCard = {
      name: input.name,
      created: new Date().toISOString(),
      labels: [...LABELS],
      input: { width: opts.inputSize, height: opts.inputSize, channels: 3, layout: 'NHWC', normalization: 'x/127.5-1', inputName: 'input', outputName: 'probs' },
      cropMargin: opts.margin,
      architecture: `MobileNetV2 (alpha ${base.alpha}, ${input.fineTunedBlocks ? `base ${base.name} with its last ${input.fineTunedBlocks} block(s) + Conv_1 fine-tuned` : `frozen base ${base.name}`}) → AveragePooling2D(${opts.inputSize / 32}×${opts.inputSize / 32}) → Flatten → Dense(${opts.hidden}, relu) → Dropout(${opts.dropout}) → Dense(3, softmax)`,
      base: { name: base.name, alpha: base.alpha, sha256: base.weightsSha256, licence: base.licence },
      files: {
        float: fileEntry(tmp, 'classifier.onnx'),
        ...(int8 ? { int8: fileEntry(tmp, 'classifier.int8.onnx') } : {}),
        tfjs: fileEntry(tmp, 'tfjs/model.json'),
      },
      training: { ...input.training, tfjsWeights: fileEntry(tmp, 'tfjs/weights.bin'), exportCheckMaxAbsDiff: check.maxAbsDiff, seconds: Math.round((Date.now() - input.started) / 1000) },
      metrics: { minFace: opts.minFace, validation: summary(validation), test: summary(test), ...(int8 ? { testInt8: summary(int8.int8) } : {}) },
      ...(quantization ? { quantization } : {}),
      licence: 'MIT (trained on the CC0 Kaggle Face Mask Detection set and MIT-licensed face crops; base weights Apache-2.0)',
    };
    writeModelCard(tmp, card);
    const old = `${out}.old-${process.pid}`;
    if (fs.existsSync(out)) fs.renameSync(out, old);
    fs.renameSync(tmp, out);
    fs.rmSync(old, { recursive: true, force: true });
    return { card, validation, test, exportMaxDiff: check.maxAbsDiff, int8 };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    try {
      classifier.dispose();
    } catch {
      /* already disposed */
    }
  }
}
