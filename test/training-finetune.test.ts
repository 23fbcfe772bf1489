import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { loadLayersModelFromDir } from '../src/workflows/export/tfjs-model-dir.js';
import { faceInputs, faceView } from '../src/vision/face-crop.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { buildTail, cutLayerName, disposeTail, predictTail } from '../src/workflows/train/finetune.js';
import { loadTf } from '../src/workflows/train/head.js';
import { buildClassifier, buildHead, copyHeadWeights } from '../src/workflows/train/mobilenet.js';
import { randomizeDense } from './helpers/tfjs-models.js';
import { TRAIN_DEFAULTS, validateTrainOptions, type TrainOptions } from '../src/workflows/train/options.js';
import { runTraining, type TrainingOutcome } from '../src/workflows/train/trainer.js';
import { readModelCard } from '../src/vision/model-card.js';

/** --fine-tune-blocks 1 end to end on the tiny fixture set: the top block changes and ONNX still matches TF.js. */
const FIXTURE = path.resolve('test/fixtures/dataset');
const BASE = path.resolve('models/mobilenet_v2_0.35_224');
let dir: string;
let opts: TrainOptions;
let outcome: TrainingOutcome;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-finetune-'));
  opts = {
    ...TRAIN_DEFAULTS,
    data: [path.join(FIXTURE, 'voc'), path.join(FIXTURE, 'crops')],
    out: path.join(dir, 'model'),
    name: 'fixture-finetune',
    cacheDir: path.join(dir, 'cache'),
    epochs: 2,
    augment: 1,
    maxCopies: 3,
    patience: 2,
    batchSize: 8,
    fineTuneBlocks: 1,
    fineTuneEpochs: 2,
    fineTuneLearningRate: 0.0003,
    calibrateBias: false,
    quantize: false,
    progress: false,
  };
  outcome = await runTraining(opts);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the cut for one block is the output of block_15_add', async () => {
  const base = await loadLayersModelFromDir(BASE);
  assert.equal(cutLayerName(base, 1), 'block_15_add');
  assert.equal(cutLayerName(base, 2), 'block_14_add');
  assert.throws(() => cutLayerName(base, 4), /fine-tune blocks/);
  base.dispose();
});

test('fineTuneBlocks outside 0..3 is one clear error', () => {
  assert.throws(() => validateTrainOptions({ ...TRAIN_DEFAULTS, data: ['x'], fineTuneBlocks: 4 }), /fineTuneBlocks: must be 0\.\.3, got 4/);
  assert.throws(() => validateTrainOptions({ ...TRAIN_DEFAULTS, data: ['x'], fineTuneBlocks: 1.5 }), /fineTuneBlocks/);
  assert.equal(validateTrainOptions({ ...TRAIN_DEFAULTS, data: ['x'] }).fineTuneBlocks, 0);
});

test('fine-tuning runs and records its epochs in the card', () => {
  const card = readModelCard(opts.out);
  const ft = (card.training as { fineTune: { blocks: number; cutAt: string; epochs: { run: number } } | null }).fineTune;
  assert.ok(ft, 'fineTune section');
  assert.equal(ft.blocks, 1);
  assert.equal(ft.cutAt, 'block_15_add');
  assert.ok(ft.epochs.run >= 1 && ft.epochs.run <= 2);
  assert.match(card.architecture, /fine-tuned/);
  assert.ok(fs.readdirSync(path.join(opts.cacheDir, 'bases')).some((f) => f.includes('cut-block_15_add')), 'truncated base cached');
});

test('the fine-tuned layers differ from the ImageNet ones, the layers below do not', async () => {
  const base = await loadLayersModelFromDir(BASE);
  const model = await loadLayersModelFromDir(path.join(opts.out, 'tfjs'));
  // Compare the effective (BN-folded) response: kernel · gamma/√(var+ε) on one layer of the tuned block.
  const folded = (m: tf.LayersModel, conv: string, bn: string) =>
    tf.tidy(() => {
      const [k] = m.getLayer(conv).getWeights();
      const [g, , , v] = m.getLayer(bn).getWeights();
      return k.mul(g.div(v.add(1e-3).sqrt())).dataSync() as Float32Array;
    });
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  for (const [conv, bn] of [['block_16_project', 'block_16_project_BN'], ['Conv_1', 'Conv_1_bn']])
    assert.ok(maxDiff(folded(base, conv, bn), folded(model, conv, bn)) > 1e-4, `${conv} changed`);
  assert.ok(maxDiff(folded(base, 'block_15_project', 'block_15_project_BN'), folded(model, 'block_15_project', 'block_15_project_BN')) < 1e-6, 'block_15 untouched');
  base.dispose();
  model.dispose();
});

test('the exported ONNX agrees with the TF.js fine-tuned classifier on a real face crop', async () => {
  assert.ok(outcome.model.exportMaxDiff <= 1e-4);
  const sample = outcome.data.samples.find((s) => s.box)!;
  const x = faceInputs([faceView(await readImageFile(sample.file), sample.box, 0.15)], 224);
  const session = await ort.InferenceSession.create(path.join(opts.out, 'classifier.onnx'));
  const got = (await session.run({ input: new ort.Tensor('float32', x, [1, 224, 224, 3]) })).probs.data as Float32Array;
  await session.release();
  const model = await loadLayersModelFromDir(path.join(opts.out, 'tfjs'));
  const expected = tf.tidy(() => (model.predict(tf.tensor4d(x, [1, 224, 224, 3])) as tf.Tensor).dataSync());
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i] - expected[i]) <= 1e-4, `class ${i}: ONNX ${got[i]} vs TF.js ${expected[i]}`);
  model.dispose();
});

test('the trainable tail pools as the classifier does (global and bands): the same probabilities from the cut', async () => {
  const tfb = await loadTf();
  const base = await loadLayersModelFromDir(BASE);
  const sample = outcome.data.samples.find((s) => s.box)!;
  const x = tf.tensor4d(faceInputs([faceView(await readImageFile(sample.file), sample.box, 0.15)], 224), [1, 224, 224, 3]);
  const cut = tf.model({ inputs: base.inputs, outputs: base.getLayer(cutLayerName(base, 1)).output as tf.SymbolicTensor });
  const activations = Float32Array.from((cut.predict(x) as tf.Tensor).dataSync());
  for (const pool of ['global', 'bands'] as const) {
    const head = buildHead(pool === 'global' ? 1280 : 3 * 1280, { hidden: 128, dropout: 0.5, classes: 3, seed: 5 });
    randomizeDense(head, 0.05, 7);
    const tail = await buildTail(base, 1, head, pool);
    const got = predictTail(tfb, tail, [activations])[0]!;
    const clf = buildClassifier(base, { inputSize: 224, hidden: 128, dropout: 0.5, classes: 3, pool });
    copyHeadWeights(head, clf);
    const expected = (clf.predict(x) as tf.Tensor).dataSync();
    assert.ok(Math.max(...expected) < 0.999, `${pool}: output not saturated (${[...expected]})`);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i]! - expected[i]!) <= 1e-4, `${pool}, class ${i}: tail ${got[i]} vs classifier ${expected[i]}`);
    disposeTail(tail);
  }
});
