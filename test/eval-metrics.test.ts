/** Macro-F1 averages the classes that occur: a class with no true and no predicted sample has no F1 to count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confusionOf, emptyConfusion, evaluatePredictions, formatMetrics, metricsFromConfusion } from '../src/workflows/eval/metrics.js';

test('two correct crops of one class: macro-F1 1, not 0.667', () => {
  const m = metricsFromConfusion(confusionOf([1, 1], [1, 1]));
  assert.equal(m.macroF1, 1);
  assert.equal(m.accuracy, 1);
  assert.match(formatMetrics('test', m), /macro-F1 1\.000 \(over 1 classes; no mask, mask_incorrect here\)/);
});

test('a class that is predicted but never true still counts (its F1 is 0): wrong guesses are not forgiven', () => {
  // truth: two no_mask; predicted: one no_mask, one mask → mask has F1 0, no_mask F1 2/3, mask_incorrect absent
  const m = metricsFromConfusion(confusionOf([1, 1], [1, 0]));
  assert.ok(Math.abs(m.macroF1 - (0 + 2 / 3) / 2) < 1e-12, String(m.macroF1));
  assert.match(formatMetrics('test', m), /over 2 classes; no mask_incorrect here/);
});

test('every class present: the plain mean over all three; no samples at all: 0', () => {
  const m = metricsFromConfusion(confusionOf([0, 1, 2, 2], [0, 1, 2, 1]));
  const f1 = (p: number, r: number) => (2 * p * r) / (p + r);
  assert.ok(Math.abs(m.macroF1 - (1 + f1(0.5, 1) + f1(1, 0.5)) / 3) < 1e-12);
  assert.doesNotMatch(formatMetrics('test', m), /over \d classes/);
  assert.equal(metricsFromConfusion(emptyConfusion()).macroF1, 0);
});

test('the large-face subset of an eval is not dragged down by a class it happens to lack', () => {
  const r = evaluatePredictions([0, 1, 2], [0, 1, 2], [40, 40, 10], 32);
  assert.equal(r.all.macroF1, 1);
  assert.equal(r.large.macroF1, 1);
});

test('each class row carries the 95 % interval of its recall, from its own counts', () => {
  // mask_incorrect: 3 of 6 right; mask: 4 of 4
  const m = metricsFromConfusion(confusionOf([0, 0, 0, 0, 2, 2, 2, 2, 2, 2], [0, 0, 0, 0, 2, 2, 2, 0, 1, 0]));
  const rows = formatMetrics('test', m).split('\n');
  assert.match(rows.find((r) => r.trimStart().startsWith('mask_incorrect'))!, /\s6\s+0\.19–0\.81$/);
  assert.match(rows.find((r) => r.trimStart().startsWith('mask '))!, /\s4\s+0\.51–1\.00$/);
});
