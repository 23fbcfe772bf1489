import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeModel } from '../src/onnx/builder.js';
import { layersModelToOnnx, UnsupportedLayerError } from '../src/onnx/layers-export.js';
import { loadLayersModelFromDir, saveLayersModelToDir, LayersModelDirError } from '../src/workflows/export/tfjs-model-dir.js';
import { checkOnnxAgainstTfjs } from '../src/onnx/export-check.js';
import { featureExtractor, featureExtractorToOnnx, writeBaseFeaturesOnnx } from '../src/workflows/export/base-features.js';
import { buildClassifier, buildHead, buildMobileNetV2, copyHeadWeights } from '../src/workflows/train/mobilenet.js';
import { poolBands } from '../src/workflows/export/head-pool.js';
import { TRAIN_DEFAULTS, validateTrainOptions } from '../src/workflows/train/options.js';
import { randomizeBatchNorm, randomizeDense } from './helpers/tfjs-models.js';

const BASE_DIR = 'models/mobilenet_v2_0.35_224';
const HEAD = { hidden: 128, dropout: 0.5, classes: 3 };

before(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

function opTypes(bytes: Uint8Array): string[] {
  return decodeModel(bytes).graph!.node!.map((n) => n.opType!);
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-export-'));
}

test('full 0.35/224 classifier with a random head: ONNX Runtime matches TF.js to 1e-4', async () => {
  const base = await loadLayersModelFromDir(BASE_DIR);
  const clf = buildClassifier(base, { inputSize: 224, ...HEAD, seed: 3 });
  const bytes = layersModelToOnnx(clf);
  const check = await checkOnnxAgainstTfjs(clf, bytes, 2, 5);
  assert.deepEqual(check.outputShape, [2, 3]);
  assert.ok(check.maxAbsDiff <= 1e-4, `max abs diff ${check.maxAbsDiff}`);
  const ops = opTypes(bytes);
  assert.equal(ops.filter((o) => o === 'Conv').length, 52, 'one Conv per conv layer');
  assert.ok(!ops.includes('BatchNormalization') && !ops.includes('Pad'), `BN and ZeroPadding are folded: ${[...new Set(ops)].join(',')}`);
  const g = decodeModel(bytes).graph!;
  assert.equal(g.input![0]!.name, 'input');
  assert.equal(g.output![0]!.name, 'probs');
});

test('tiny MobileNetV2 with random BN statistics: folding keeps ONNX equal to TF.js (even and odd input sizes)', async () => {
  for (const size of [96, 97]) {
    const base = buildMobileNetV2(0.35, size, 2);
    randomizeBatchNorm(base, size);
    const clf = buildClassifier(base, { inputSize: size, ...HEAD, seed: 4 });
    const x = tf.randomUniform([1, size, size, 3], -1, 1, 'float32', 9);
    const probs = (clf.predict(x) as tf.Tensor).dataSync();
    assert.ok(Math.max(...probs) < 0.99 && Math.max(...probs) - Math.min(...probs) > 1e-3, `output not degenerate: ${[...probs]}`);
    const check = await checkOnnxAgainstTfjs(clf, layersModelToOnnx(clf), 2, 21);
    assert.ok(check.maxAbsDiff <= 1e-4, `input ${size}: max abs diff ${check.maxAbsDiff}`);
    // The base's own 4×4×1280 (3×3×1280 at 96) map, NHWC out, catches layout errors a pooled output could hide.
    const raw = await checkOnnxAgainstTfjs(base, layersModelToOnnx(base, { outputName: 'map' }), 1, 22);
    assert.ok(raw.maxAbsDiff <= 1e-4, `input ${size} feature map: max abs diff ${raw.maxAbsDiff}`);
  }
});

test('assorted layers: asymmetric same padding, BN folded into a biased conv, standalone BN, spatial Flatten, Rescaling, activations', async () => {
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.rescaling({ scale: 0.5, offset: 0.1 }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 5, kernelSize: 1, useBias: true, biasInitializer: 'glorotUniform' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 1, padding: 'same', depthMultiplier: 2, useBias: true, biasInitializer: 'glorotUniform' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu6' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  const side = tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.add({}).apply([x, side]) as tf.SymbolicTensor;
  x = tf.layers.flatten({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.3 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 4, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  randomizeBatchNorm(model, 3);
  randomizeDense(model, 0.3);
  const bytes = layersModelToOnnx(model, { outputName: 'scores' });
  const ops = opTypes(bytes);
  assert.ok(ops.includes('Transpose'), 'Flatten over a 3×3 map transposes back to NHWC order');
  assert.equal(ops.filter((o) => o === 'Mul').length, 2, 'the BN after a biased conv is folded, the one after relu6 is not (plus Rescaling)');
  const check = await checkOnnxAgainstTfjs(model, bytes, 3, 1);
  assert.ok(check.maxAbsDiff <= 1e-5, `max abs diff ${check.maxAbsDiff}`);
});

test('base features ONNX (base.onnx) matches TF.js base + global average pool', async () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'base.onnx');
    const { base, bytes } = await writeBaseFeaturesOnnx(BASE_DIR, file);
    assert.ok(fs.readFileSync(file).equals(Buffer.from(bytes)), 'written file holds the returned bytes');
    const g = decodeModel(bytes).graph!;
    assert.equal(g.output![0]!.name, 'features');
    const check = await checkOnnxAgainstTfjs(featureExtractor(base), bytes, 2, 8);
    assert.deepEqual(check.outputShape, [2, 1280]);
    assert.ok(check.maxAbsDiff <= 1e-4, `max abs diff ${check.maxAbsDiff}`);
    const shipped = path.join(BASE_DIR, 'base.onnx');
    if (fs.existsSync(shipped)) assert.ok(fs.readFileSync(shipped).equals(Buffer.from(bytes)), 'shipped base.onnx is up to date (run scripts/prepare-base.ts)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('width 1.0 base (random weights and BN statistics): features ONNX matches TF.js', async () => {
  const base = buildMobileNetV2(1.0, 64, 6);
  randomizeBatchNorm(base, 6);
  const check = await checkOnnxAgainstTfjs(featureExtractor(base), featureExtractorToOnnx(base), 1, 3);
  assert.deepEqual(check.outputShape, [1, 1280]);
  assert.ok(check.maxAbsDiff <= 1e-4, `max abs diff ${check.maxAbsDiff}`);
});

test('Sequential model with a nested MobileNetV2 base exports like a flat one', async () => {
  const base = buildMobileNetV2(0.35, 64, 2);
  randomizeBatchNorm(base, 2);
  const seq = tf.sequential({ layers: [base, tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  randomizeDense(seq, 0.5);
  const check = await checkOnnxAgainstTfjs(seq, layersModelToOnnx(seq), 2, 4);
  assert.ok(check.maxAbsDiff <= 1e-4, `max abs diff ${check.maxAbsDiff}`);
});

test('an unsupported layer is named in one clear error', () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.reshape({ targetShape: [128], name: 'odd_reshape' }).apply(conv) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  assert.throws(() => layersModelToOnnx(model), (err: Error) => err instanceof UnsupportedLayerError && /layer 'odd_reshape' \(Reshape\) is not supported/.test(err.message));
});

test('buildMobileNetV2 has the Keras layout: the shipped ImageNet weights load into it; width 1.0 has 2,257,984 parameters', async () => {
  const shipped = await loadLayersModelFromDir(BASE_DIR);
  const built = buildMobileNetV2(0.35, 224);
  const sig = (m: tf.LayersModel) => m.layers.map((l) => `${l.name}:${l.getClassName()}:${l.getWeights().map((w) => w.shape.join('x')).join(',')}`);
  assert.deepEqual(sig(built), sig(shipped));
  assert.equal(buildMobileNetV2(1.0, 224).countParams(), 2257984);
});

test('copyHeadWeights: a head trained on pooled features gives the same probabilities inside the full classifier', async () => {
  const base = buildMobileNetV2(0.35, 64, 5);
  randomizeBatchNorm(base, 5);
  const head = buildHead(1280, { ...HEAD, seed: 9 });
  randomizeDense(head, 0.2, 31);
  const clf = buildClassifier(base, { inputSize: 64, ...HEAD, seed: 1 });
  copyHeadWeights(head, clf);
  const x = tf.randomUniform([2, 64, 64, 3], -1, 1, 'float32', 2);
  const viaHead = (head.predict(featureExtractor(base).predict(x) as tf.Tensor) as tf.Tensor).dataSync();
  const full = (clf.predict(x) as tf.Tensor).dataSync();
  for (let i = 0; i < full.length; i++) assert.ok(Math.abs(full[i]! - viaHead[i]!) < 1e-5, `prob ${i}: ${full[i]} vs ${viaHead[i]}`);
});

test('head pool bands: three row bands cover the map; features, head and classifier agree in TF.js and ONNX', async () => {
  for (const h of [3, 4, 7, 8, 10]) {
    const { rows, step, count } = poolBands(h);
    assert.equal(count, 3);
    assert.equal((count - 1) * step + rows, h, `${h} rows: bands of ${rows} every ${step} end at the last row`);
    assert.ok(step >= 1 && rows >= step, `${h} rows: no row left out`);
  }
  assert.throws(() => poolBands(2), /fewer than 3/);
  assert.throws(() => validateTrainOptions({ ...TRAIN_DEFAULTS, data: ['x'], pool: 'rows' as never }), /train option pool: must be one of global, bands, got "rows"/);
  assert.equal(validateTrainOptions({ ...TRAIN_DEFAULTS, data: ['x'] }).pool, 'global');
  const base = buildMobileNetV2(0.35, 128, 7); // a 4×4 map: bands of rows 0–1, 1–2, 2–3
  randomizeBatchNorm(base, 7);
  const features = featureExtractor(base, 'bands');
  const check = await checkOnnxAgainstTfjs(features, featureExtractorToOnnx(base, 'bands'), 2, 5);
  assert.deepEqual(check.outputShape, [2, 3 * 1280]);
  assert.ok(check.maxAbsDiff <= 1e-4, `features: max abs diff ${check.maxAbsDiff}`);
  const x = tf.randomUniform([2, 128, 128, 3], -1, 1, 'float32', 3);
  const map = (base.predict(x) as tf.Tensor4D).arraySync();
  const banded = (features.predict(x) as tf.Tensor).arraySync() as number[][];
  // Band 1 of channel 5 is the mean of rows 1–2 over all columns: the layout the head is trained on.
  const mean = (rows: number[], c: number) => rows.reduce((a, r) => a + map[0]![r]!.reduce((s, px) => s + px[c]!, 0), 0) / (rows.length * 4);
  assert.ok(Math.abs(banded[0]![1280 + 5]! - mean([1, 2], 5)) < 1e-5, `band 1, channel 5: ${banded[0]![1285]} vs ${mean([1, 2], 5)}`);
  assert.ok(Math.abs(banded[0]![2 * 1280]! - mean([2, 3], 0)) < 1e-5, 'band 2, channel 0');
  const head = buildHead(3 * 1280, { ...HEAD, seed: 9 });
  randomizeDense(head, 0.2, 31);
  const clf = buildClassifier(base, { inputSize: 128, ...HEAD, seed: 1, pool: 'bands' });
  copyHeadWeights(head, clf);
  const viaHead = (head.predict(features.predict(x) as tf.Tensor) as tf.Tensor).dataSync();
  const full = (clf.predict(x) as tf.Tensor).dataSync();
  for (let i = 0; i < full.length; i++) assert.ok(Math.abs(full[i]! - viaHead[i]!) < 1e-5, `prob ${i}: ${full[i]} vs ${viaHead[i]}`);
  const onnx = await checkOnnxAgainstTfjs(clf, layersModelToOnnx(clf), 2, 6);
  assert.ok(onnx.maxAbsDiff <= 1e-4, `classifier: max abs diff ${onnx.maxAbsDiff}`);
});

test('loader: save/load round trip; missing folder, model.json and weight file give clear errors', async () => {
  const dir = tmpDir();
  try {
    const model = buildHead(16, { ...HEAD, seed: 2 });
    await saveLayersModelToDir(model, dir);
    const back = await loadLayersModelFromDir(dir);
    const x = tf.randomUniform([1, 16], -1, 1, 'float32', 4);
    assert.deepEqual((back.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync());
    await assert.rejects(loadLayersModelFromDir(path.join(dir, 'nope')), (e: Error) => e instanceof LayersModelDirError && /no such folder/.test(e.message));
    fs.rmSync(path.join(dir, 'weights.bin'));
    await assert.rejects(loadLayersModelFromDir(dir), /weight file weights.bin named in model.json is missing/);
    fs.rmSync(path.join(dir, 'model.json'));
    await assert.rejects(loadLayersModelFromDir(dir), /no model.json in it/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
