import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Label } from '../src/core/types.js';
import { argmax, confusionOf, metricsFromConfusion } from '../src/workflows/eval/metrics.js';
import { splitPhotos, type SplitPhoto } from '../src/workflows/data/split.js';
import { readSynthetic } from '../src/workflows/data/synthetic.js';
import { balancedClassWeights, planTrainingJobs } from '../src/workflows/train/trainer.js';
import type { FaceSample } from '../src/workflows/data/photos.js';

const FIXTURE = path.resolve('test/fixtures/dataset');

/** 300 photos: most with 1–4 faces, a rare label in a few; some exact duplicates under other names. */
function photos(): SplitPhoto[] {
  const out: SplitPhoto[] = [];
  for (let i = 0; i < 300; i++) {
    const labels: Label[] = Array.from({ length: 1 + (i % 4) }, (_, j) => (j % 2 ? 'no_mask' : 'mask'));
    if (i % 15 === 0) labels.push('mask_incorrect');
    out.push({ photoId: `set/p${i}.jpg`, labels, hash: (i * 2654435761 >>> 0).toString(16).padStart(8, '0') + (i * 40503 >>> 0).toString(16).padStart(8, '0') });
  }
  for (let i = 0; i < 10; i++) out.push({ ...out[i * 7], photoId: `copy/p${i * 7}.jpg` });
  return out;
}

test('split keeps photos (and duplicate pictures) whole, is stratified and deterministic for a seed', () => {
  const input = photos();
  const a = splitPhotos(input, { seed: 7, fractions: [0.7, 0.15, 0.15], duplicateDistance: 0 });
  const b = splitPhotos([...input].reverse(), { seed: 7, fractions: [0.7, 0.15, 0.15], duplicateDistance: 0 });
  assert.deepEqual([...a.splitOf].sort(), [...b.splitOf].sort(), 'same seed, same split, whatever the input order');
  const c = splitPhotos(input, { seed: 8, fractions: [0.7, 0.15, 0.15], duplicateDistance: 0 });
  assert.notDeepEqual([...a.splitOf].sort(), [...c.splitOf].sort(), 'another seed, another split');
  assert.equal(a.splitOf.size, input.length, 'every photo (so every crop of it) has exactly one split');
  assert.equal(a.duplicateGroups, 10);
  for (let i = 0; i < 10; i++) assert.equal(a.splitOf.get(`copy/p${i * 7}.jpg`), a.splitOf.get(`set/p${i * 7}.jpg`), 'a duplicate goes with its original');
  const rare = input.filter((p) => p.labels.includes('mask_incorrect'));
  const rareSplits = rare.map((p) => a.splitOf.get(p.photoId));
  assert.ok(rareSplits.includes('validation') && rareSplits.includes('test'), 'the rare label reaches every split');
  const faces = { train: 0, validation: 0, test: 0 };
  for (const p of input) faces[a.splitOf.get(p.photoId)!] += p.labels.length;
  const total = faces.train + faces.validation + faces.test;
  assert.ok(Math.abs(faces.train / total - 0.7) < 0.05 && Math.abs(faces.test / total - 0.15) < 0.05, JSON.stringify(faces));
});

test('cross-validation folds: the test split stays, every other photo is validation in exactly one fold, duplicates together', () => {
  const input = photos();
  const options = { seed: 7, fractions: [0.7, 0.15, 0.15] as [number, number, number], duplicateDistance: 0 };
  const plain = splitPhotos(input, options).splitOf;
  const folds = Array.from({ length: 5 }, (_, index) => splitPhotos(input, { ...options, fold: { index, of: 5 } }).splitOf);
  for (const p of input) {
    const id = p.photoId;
    if (plain.get(id) === 'test') assert.ok(folds.every((f) => f.get(id) === 'test'), `${id} stays in test`);
    else assert.equal(folds.filter((f) => f.get(id) === 'validation').length, 1, `${id} is validation once`);
  }
  for (const f of folds) for (let i = 0; i < 10; i++) assert.equal(f.get(`copy/p${i * 7}.jpg`), f.get(`set/p${i * 7}.jpg`));
  const rareIn = folds.map((f) => input.filter((p) => p.labels.includes('mask_incorrect') && f.get(p.photoId) === 'validation').length);
  assert.ok(Math.max(...rareIn) - Math.min(...rareIn) <= 1, `the rare label spread evenly over the folds: ${rareIn}`);
  assert.throws(() => splitPhotos(input, { ...options, fold: { index: 5, of: 5 } }), /fold 6 of 5/);
  assert.throws(() => splitPhotos(input, { ...options, fold: { index: 0, of: 1 } }), /2 or more folds/);
});

test('synthetic crops join training only when their source photo is a training photo', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-synth-'));
  fs.mkdirSync(path.join(dir, 'mask_incorrect'));
  const src = path.join(FIXTURE, 'crops/mask_incorrect/maksssksksss11-0.jpg');
  const items = ['train', 'validation', 'test', 'elsewhere'].map((split, i) => {
    fs.copyFileSync(src, path.join(dir, 'mask_incorrect', `s${i}.jpg`));
    return { file: `mask_incorrect/s${i}.jpg`, label: 'mask_incorrect', source: `set/${split}.jpg` };
  });
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ items }));
  const splitOf = new Map([['set/train.jpg', 'train'], ['set/validation.jpg', 'validation'], ['set/test.jpg', 'test']] as const);
  const r = await readSynthetic(dir, new Map(splitOf), null);
  assert.deepEqual(r.samples.map((s) => s.file), [path.join(dir, 'mask_incorrect/s0.jpg')]);
  assert.ok(r.samples[0].synthetic && r.samples[0].label === 'mask_incorrect');
  assert.equal(r.droppedHeldOutSource, 2);
  assert.equal(r.droppedUnknownSource, 1);
  fs.rmSync(dir, { recursive: true });
});

test('metrics from a hand-made confusion matrix', () => {
  // rows true (mask, no_mask, mask_incorrect), columns predicted
  const m = metricsFromConfusion([
    [8, 1, 1],
    [0, 5, 0],
    [2, 0, 3],
  ]);
  assert.equal(m.count, 20);
  assert.equal(m.accuracy, 16 / 20);
  assert.equal(m.perClass.mask.precision, 8 / 10);
  assert.equal(m.perClass.mask.recall, 8 / 10);
  assert.equal(m.perClass.no_mask.precision, 5 / 6);
  assert.equal(m.perClass.no_mask.recall, 1);
  assert.equal(m.perClass.mask_incorrect.precision, 3 / 4);
  assert.equal(m.perClass.mask_incorrect.recall, 3 / 5);
  const f1 = (p: number, r: number) => (2 * p * r) / (p + r);
  assert.ok(Math.abs(m.macroF1 - (f1(0.8, 0.8) + f1(5 / 6, 1) + f1(0.75, 0.6)) / 3) < 1e-12);
  assert.deepEqual(confusionOf([0, 2, 2, 1], [0, 0, 2, 1]), [[1, 0, 0], [0, 1, 0], [1, 0, 1]]);
  assert.equal(metricsFromConfusion([[0, 0, 0], [0, 2, 0], [0, 0, 0]]).perClass.mask.f1, 0, 'no support, nothing predicted: 0, not NaN');
  assert.equal(argmax([0.1, 0.7, 0.2]), 1);
});

test('minority classes get more augmented copies; class weights balance what is left', () => {
  const sample = (label: Label, i: number): FaceSample => ({ id: `${label}${i}`, photoId: `p/${label}${i}`, file: 'x', label, box: null, faceSize: 50 });
  const train = [...Array.from({ length: 100 }, (_, i) => sample('mask', i)), ...Array.from({ length: 60 }, (_, i) => sample('no_mask', i)), ...Array.from({ length: 5 }, (_, i) => sample('mask_incorrect', i))];
  const plan = planTrainingJobs(train, { augment: 2, balance: 0.5, maxCopies: 24 });
  assert.equal(plan.copiesPerCrop.mask, 3);
  assert.equal(plan.copiesPerCrop.no_mask, 3);
  assert.equal(plan.copiesPerCrop.mask_incorrect, 24, 'capped at maxCopies');
  assert.equal(plan.jobs.length, 300 + 180 + 120);
  assert.deepEqual(new Set(plan.jobs.filter((j) => j.sample.id === 'mask_incorrect0').map((j) => j.aug)).size, 24);
  const w = balancedClassWeights(plan.counts);
  assert.ok(Math.abs(w[0] * 300 - w[2] * 120) < 1e-9 && w[2] > w[1] && w[1] > w[0]);
});

test('a class offset tuned on validation is kept only when it raises macro-F1', async () => {
  const { tuneClassBias } = await import('../src/workflows/train/head.js');
  // mask_incorrect (index 2) is always second best: only an offset finds it.
  const probs = [
    ...Array.from({ length: 20 }, () => Float32Array.from([0.8, 0.15, 0.05])),
    ...Array.from({ length: 20 }, () => Float32Array.from([0.1, 0.85, 0.05])),
    ...Array.from({ length: 5 }, () => Float32Array.from([0.5, 0.1, 0.4])),
  ];
  const y = [...Array(20).fill(0), ...Array(20).fill(1), ...Array(5).fill(2)];
  const tuned = tuneClassBias(probs, y, 2);
  assert.ok(tuned.offset > 0 && tuned.offset <= 3);
  assert.equal(tuned.valMacroF1After, 1);
  assert.ok(tuned.valMacroF1Before < 0.7);
  const already = tuneClassBias(probs.map((p, i) => (y[i] === 2 ? Float32Array.from([0.1, 0.1, 0.8]) : p)), y, 2);
  assert.equal(already.offset, 0, 'nothing to gain: no offset');
});
