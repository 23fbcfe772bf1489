import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { sha256File } from '../src/core/files.js';
import { loadLayersModelFromDir } from '../src/workflows/export/tfjs-model-dir.js';
import { faceInputs, faceView } from '../src/vision/face-crop.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { runEvaluation } from '../src/workflows/eval/eval-run.js';
import { extractFeatures } from '../src/workflows/train/features.js';
import { TRAIN_DEFAULTS, type TrainOptions } from '../src/workflows/train/options.js';
import { runTraining, type TrainingOutcome } from '../src/workflows/train/trainer.js';
import { readModelCard, verifiedModelFile } from '../src/vision/model-card.js';

/** End to end on the tiny fixture set: train (few epochs, small augment) → model folder → eval. */
const FIXTURE = path.resolve('test/fixtures/dataset');
let dir: string;
let opts: TrainOptions;
let outcome: TrainingOutcome;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-train-'));
  opts = {
    ...TRAIN_DEFAULTS,
    data: [path.join(FIXTURE, 'voc'), path.join(FIXTURE, 'crops')],
    out: path.join(dir, 'model'),
    name: 'fixture-model',
    cacheDir: path.join(dir, 'cache'),
    epochs: 3,
    augment: 1,
    maxCopies: 3,
    patience: 3,
    batchSize: 8,
    calibrationCount: 4,
    progress: false,
  };
  outcome = await runTraining(opts);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('training writes a whole model folder whose card sha256s match its files', () => {
  const model = opts.out;
  for (const f of ['classifier.onnx', 'model-card.json', 'eval.json', 'eval.png', 'tfjs/model.json', 'tfjs/weights.bin']) assert.ok(fs.existsSync(path.join(model, f)), f);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-') || f.includes('.old-')), [], 'no temporary folder left behind');
  const card = readModelCard(model);
  assert.equal(card.name, 'fixture-model');
  assert.deepEqual(card.labels, ['mask', 'no_mask', 'mask_incorrect']);
  assert.equal(card.input.width, 224);
  assert.equal(card.cropMargin, 0.15);
  const boxes = (card.training as { detectorBoxes: { detector: string; settings: { precision: string } } }).detectorBoxes;
  assert.match(boxes.detector, /^ssd 260 (int8|float)$/, 'the crops name the SSD file that cut them, precision auto resolved');
  assert.notEqual(boxes.settings.precision, 'auto');
  verifiedModelFile(model, card, 'float');
  verifiedModelFile(model, card, 'int8');
  const q = card.quantization as { floatLayers: number; trials: Array<{ floatLayers: number; checkAgreementPct: number }>; targetMet: boolean; test: { labelAgreementPctLarge: number }; calibrationCrops: number };
  assert.equal(q.calibrationCrops, 4);
  assert.ok(q.trials.length >= 1 && q.trials.at(-1)!.floatLayers >= q.floatLayers, JSON.stringify(q.trials));
  assert.equal(q.targetMet, q.trials.some((t) => t.checkAgreementPct >= 99));
  assert.ok(q.test.labelAgreementPctLarge >= 0 && q.test.labelAgreementPctLarge <= 100);
  assert.equal(card.files.tfjs!.sha256, sha256File(path.join(model, 'tfjs/model.json')));
  const training = card.training as { counts: Record<string, Record<string, number>>; epochs: { run: number }; seed: number };
  const total = Object.values(training.counts).reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
  assert.equal(total, outcome.data.samples.length);
  assert.ok(training.epochs.run >= 1 && training.epochs.run <= 3);
  assert.ok((card.metrics as { test: { all: { count: number } } }).test.all.count > 0);
});

test('the ONNX classifier agrees with the TF.js model on a real face crop', async () => {
  const model = opts.out;
  const sample = outcome.data.samples.find((s) => s.box)!;
  const x = faceInputs([faceView(await readImageFile(sample.file), sample.box, 0.15)], 224);
  const session = await ort.InferenceSession.create(path.join(model, 'classifier.onnx'));
  const got = (await session.run({ input: new ort.Tensor('float32', x, [1, 224, 224, 3]) })).probs.data as Float32Array;
  await session.release();
  const tfModel = await loadLayersModelFromDir(path.join(model, 'tfjs'));
  const expected = tf.tidy(() => (tfModel.predict(tf.tensor4d(x, [1, 224, 224, 3])) as tf.Tensor).dataSync());
  assert.equal(got.length, 3);
  assert.ok(Math.abs(got[0] + got[1] + got[2] - 1) < 1e-4, 'softmax output');
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i] - expected[i]) <= 1e-4, `class ${i}: ONNX ${got[i]} vs TF.js ${expected[i]}`);
});

test('eval recomputes the held-out split from the card and writes JSON + PNG', async () => {
  const json = path.join(dir, 'eval', 'test.json');
  const png = path.join(dir, 'eval', 'test.png');
  const report = await runEvaluation({ model: opts.out, split: 'test', minFace: 32, precision: 'float', json, png, cacheDir: opts.cacheDir, progress: false });
  const testFaces = outcome.data.samples.filter((s) => outcome.data.splitOf.get(s.photoId) === 'test');
  assert.equal(report.result.count, testFaces.length);
  const written = JSON.parse(fs.readFileSync(json, 'utf8')) as { result: { all: { count: number; confusion: number[][] } } };
  assert.equal(written.result.all.count, testFaces.length);
  assert.equal(written.result.all.confusion.flat().reduce((a, b) => a + b, 0), testFaces.length);
  const cardTest = (readModelCard(opts.out).metrics as { test: { all: { confusion: number[][] } } }).test.all.confusion;
  assert.deepEqual(written.result.all.confusion, cardTest, 'same faces, same model: same confusion matrix as at training time');
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! > 500);

  const any = await runEvaluation({ model: opts.out, data: [path.join(FIXTURE, 'crops')], split: 'test', minFace: 32, precision: 'float', cacheDir: opts.cacheDir, progress: false });
  assert.equal(any.split, 'all');
  assert.equal(any.result.count, 18);
});

test('features come from the cache on a rerun, and match a fresh computation', async () => {
  const ns = fs.readdirSync(opts.cacheDir).find((f) => f.includes('-224-m0.15-'))!;
  const shards = () => fs.readdirSync(path.join(opts.cacheDir, ns)).sort();
  const before = shards();
  const jobs = outcome.data.samples.filter((s) => outcome.data.splitOf.get(s.photoId) === 'train').slice(0, 4).map((sample) => ({ sample, aug: 1 }));
  const baseOnnx = path.resolve('models/mobilenet_v2_0.35_224/base.onnx');
  const featureOpts = { baseOnnx, baseSha256: sha256File(baseOnnx), inputSize: 224, margin: 0.15, cacheDir: opts.cacheDir, progress: false };
  const cached = await extractFeatures(jobs, featureOpts);
  assert.deepEqual(shards(), before, 'nothing recomputed');
  const fresh = await extractFeatures(jobs, { ...featureOpts, cacheDir: null });
  assert.equal(cached[0].length, 1280);
  for (let i = 0; i < jobs.length; i++) for (let j = 0; j < 1280; j += 97) assert.ok(Math.abs(cached[i][j] - fresh[i][j]) < 1e-5);
});
