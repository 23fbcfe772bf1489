/**
 * The shipped int8 classifier against the shipped float one, through the classifier the daemon runs (OnnxMaskClassifier:
 * the one decoder, the one face crop) on the held-out test split recomputed from the card's data roots and split, on the
 * faces the daemon classifies (≥ 32 px): labels agree on ≥ 99 % (what the quantizer chose the float prefix for), and
 * the card records what is measured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Verdict } from '../src/core/types.js';
import { samplesIn } from '../src/workflows/data/labelled-data.js';
import type { FaceSample } from '../src/workflows/data/photos.js';
import { loadCardData } from '../src/workflows/eval/eval-run.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { readModelCard } from '../src/vision/model-card.js';
import { ROOT } from './helpers/cli.js';

const MODEL = path.join(ROOT, 'models', 'maskwatch-default');
const haveData = fs.existsSync(path.resolve(ROOT, '..', 'shared', 'datasets', 'kaggle-face-mask'));

async function classifyAll(precision: 'float' | 'int8', faces: FaceSample[]): Promise<Verdict[]> {
  const classifier = await createMaskClassifier({ modelDir: MODEL, precision });
  assert.equal(classifier.info.precision, precision);
  const out = new Array<Verdict>(faces.length);
  const byFile = new Map<string, number[]>();
  faces.forEach((f, i) => byFile.set(f.file, [...(byFile.get(f.file) ?? []), i]));
  try {
    for (const [file, idx] of byFile) {
      const image = await readImageFile(file);
      const boxed = idx.filter((i) => faces[i]!.box);
      const verdicts = await classifier.classifyFaces({ ...image, seq: 0, capturedAt: 0 }, boxed.map((i) => faces[i]!.box!));
      boxed.forEach((i, k) => (out[i] = verdicts[k]!));
      // A face-crop photo (no box): the whole picture is the face, as `maskwatch classify` reads it.
      for (const i of idx.filter((j) => !faces[j]!.box)) out[i] = await classifier.classifyImage(image);
    }
  } finally {
    await classifier.close();
  }
  return out;
}

test('shipped int8 classifier, as the daemon runs it: the float label on ≥ 99 % of test faces ≥ 32 px; the card says so', { skip: haveData ? false : 'no ../shared datasets' }, async () => {
  const cwd = process.cwd();
  process.chdir(ROOT); // the card's data roots are relative to the project root
  try {
    const card = readModelCard(MODEL);
    const { data } = await loadCardData(card, null);
    const faces = samplesIn(data, 'test').filter((s) => s.faceSize >= 32);
    assert.ok(faces.length > 400, `${faces.length} test faces ≥ 32 px`);
    const float = await classifyAll('float', faces);
    const int8 = await classifyAll('int8', faces);
    const same = faces.filter((_, i) => float[i]!.label === int8[i]!.label).length;
    const pct = (100 * same) / faces.length;
    assert.ok(pct >= 99, `labels agree on ${same} of ${faces.length} faces (${pct.toFixed(2)} %)`);
    assert.ok(faces.some((_, i) => Math.abs(float[i]!.score - int8[i]!.score) > 1e-6), 'the int8 model is not the float model');
    const recorded = (card.quantization as { test?: { labelAgreementPctLarge?: number } }).test?.labelAgreementPctLarge;
    assert.equal(recorded?.toFixed(1), pct.toFixed(1), 'the card records what is measured');
  } finally {
    process.chdir(cwd);
  }
});
