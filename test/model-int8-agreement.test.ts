/**
 * The shipped int8 classifier against the shipped float one on the held-out test split (recomputed from the card's
 * data roots and split): the agreement and macro-F1 checks, on the faces the daemon classifies (≥ minFace).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { samplesIn } from '../src/workflows/data/labelled-data.js';
import { loadCardData } from '../src/workflows/eval/eval-run.js';
import { classifySamples, compareRuns } from '../src/workflows/eval/evaluate.js';
import { readModelCard, verifiedModelFile } from '../src/vision/model-card.js';
import { ROOT } from './helpers/cli.js';

const MODEL = path.join(ROOT, 'models', 'maskwatch-default');
const haveData = fs.existsSync(path.resolve(ROOT, '..', 'shared', 'datasets', 'kaggle-face-mask'));

test('shipped int8 model: same label as float on ≥ 99 % of test faces ≥ 32 px, macro-F1 within 0.01', { skip: haveData ? false : 'no ../shared datasets' }, async () => {
  const cwd = process.cwd();
  process.chdir(ROOT); // the card's data roots are relative to the project root
  try {
    const card = readModelCard(MODEL);
    const { data } = await loadCardData(card, null);
    const test = samplesIn(data, 'test');
    assert.ok(test.length > 500, `the test split has ${test.length} faces`);
    const opts = { margin: card.cropMargin, inputSize: card.input.width, progress: false };
    const float = await classifySamples(verifiedModelFile(MODEL, card, 'float'), test, opts);
    const int8 = await classifySamples(verifiedModelFile(MODEL, card, 'int8'), test, opts);
    const minFace = 32;
    const r = compareRuns(test, float, int8, minFace);
    assert.ok(r.labelAgreementPctLarge >= 99, `labels agree on ${r.labelAgreementPctLarge.toFixed(2)} % of faces ≥ ${minFace} px`);
    assert.ok(Math.abs(r.macroF1DeltaLarge) <= 0.01, `macro-F1 delta ${r.macroF1DeltaLarge.toFixed(4)} on faces ≥ ${minFace} px`);
    assert.ok(Math.abs(r.macroF1Delta) <= 0.01, `macro-F1 delta ${r.macroF1Delta.toFixed(4)} on all faces`);
    assert.ok(r.maxProbDiff > 0, 'the int8 model is not the float model');
    const recorded = (card.quantization as { test?: { labelAgreementPctLarge?: number } }).test?.labelAgreementPctLarge;
    assert.equal(recorded?.toFixed(2), r.labelAgreementPctLarge.toFixed(2), 'the card records what is measured');
  } finally {
    process.chdir(cwd);
  }
});
