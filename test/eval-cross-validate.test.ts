/**
 * `maskwatch train --cross-validate`: a real run (2 folds, a few epochs) on 40 photos of the Kaggle set in ../shared,
 * with the real SSD and trainer. The two fixture photos are too few for a fold each, so this test needs ../shared.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../src/config/load.js';
import { readModelCard } from '../src/vision/model-card.js';
import type { DoorFace } from '../src/workflows/eval/door-eval.js';
import { doorMistakes } from '../src/workflows/eval/mistakes-sheet.js';
import { crossValidate, type CrossValidation } from '../src/workflows/eval/cross-validate.js';
import { parseDataSpec } from '../src/workflows/data/datasets.js';
import { loadLabelledData } from '../src/workflows/data/labelled-data.js';
import { TRAIN_DEFAULTS, type TrainOptions } from '../src/workflows/train/options.js';

const KAGGLE = path.resolve('..', 'shared', 'datasets', 'kaggle-face-mask');
const skip = fs.existsSync(path.join(KAGGLE, 'annotations')) ? false : `no ${KAGGLE}`;
let dir: string;
let opts: TrainOptions;
let cv: CrossValidation;

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-cv-'));
  const voc = path.join(dir, 'voc');
  fs.mkdirSync(path.join(voc, 'annotations'), { recursive: true });
  fs.mkdirSync(path.join(voc, 'images'));
  const names = fs.readdirSync(path.join(KAGGLE, 'annotations')).filter((f) => f.endsWith('.xml')).sort().slice(0, 40).map((f) => f.slice(0, -4));
  for (const name of names) {
    for (const [sub, ext] of [['annotations', 'xml'], ['images', 'jpg']]) fs.symlinkSync(path.join(KAGGLE, sub!, `${name}.${ext}`), path.join(voc, sub!, `${name}.${ext}`));
  }
  opts = { ...TRAIN_DEFAULTS, data: [voc], out: path.join(dir, 'cv'), name: 'cv-test', cacheDir: path.join(dir, 'cache'), epochs: 3, augment: 0, maxCopies: 2, patience: 3, batchSize: 16, progress: false };
  const { config } = loadConfig({ env: {} });
  cv = await crossValidate({ train: opts, folds: 2, detector: { ...config.detector, precision: 'float' }, stateDir: null, rules: [{ fusionWeight: 1, confidence: 0.6 }, { fusionWeight: 0, confidence: 0 }], minFace: 32 });
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('each non-test photo is judged once, by the fold model that did not train on it; the test photos never', { skip }, async () => {
  const data = await loadLabelledData([parseDataSpec(path.join(dir, 'voc'))], { seed: opts.seed, fractions: opts.split, duplicateDistance: opts.duplicateDistance }, opts.cacheDir);
  const nonTest = new Set([...data.splitOf].filter(([, s]) => s !== 'test').map(([id]) => id));
  assert.equal(cv.folds.length, 2);
  assert.equal(cv.folds[0]!.photos + cv.folds[1]!.photos, nonTest.size, 'the two folds hold every non-test photo');
  const written = JSON.parse(fs.readFileSync(cv.json, 'utf8')) as { faces: Array<{ photoId: string }>; pooled: Array<{ fusionWeight: number; confidence: number }> };
  const judged = new Set(written.faces.map((f) => f.photoId));
  for (const id of judged) assert.ok(nonTest.has(id), `${id} is not a test photo`);
  assert.equal(judged.size, nonTest.size);
  assert.deepEqual(written.pooled.map((r) => [r.fusionWeight, r.confidence]), [[1, 0.6], [0, 0]]);
  for (const [k, fold] of cv.folds.entries()) {
    const card = readModelCard(fold.model);
    assert.deepEqual((card.training as { split: { fold: unknown } }).split.fold, { index: k, of: 2 }, 'the card records its fold, so eval recomputes the same split');
    assert.ok(!fs.existsSync(path.join(fold.model, 'classifier.int8.onnx')), 'no int8 copy for a fold');
  }
  assert.equal(cv.pooled[0]!.door.faces, cv.folds[0]!.door.faces + cv.folds[1]!.door.faces);
  assert.equal((await sharp(cv.png).metadata()).format, 'png');
  const wrong = doorMistakes(written.faces as unknown as DoorFace[], cv.pooled[0]!, 32).length;
  assert.equal((await sharp(cv.mistakes).metadata()).height, 24 + Math.ceil(wrong / 8) * (136 + 42), `the pooled folds' ${wrong} door faces without the right light, as pictures`);
});

test('a number of folds outside 2..20 is one clear error', async () => {
  await assert.rejects(crossValidate({ train: { ...TRAIN_DEFAULTS, data: ['x'] }, folds: 1, detector: loadConfig({ env: {} }).config.detector, stateDir: null, rules: [{ fusionWeight: 1, confidence: 0.6 }], minFace: 32 }), /from 2 to 20, got 1/);
});
