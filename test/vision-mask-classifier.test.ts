/**
 * The classifier runtime on a real (tiny) ONNX model dir made here with GraphBuilder, and on the trained
 * default model when models/maskwatch-default exists.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setLogSink } from '../src/core/log.js';
import type { Frame } from '../src/core/types.js';
import { faceCropRegion } from '../src/vision/face-crop.js';
import { createMaskClassifier, toVerdict } from '../src/vision/mask-classifier.js';
import { ModelError } from '../src/core/errors.js';
import { readModelCard, writeModelCard } from '../src/vision/model-card.js';
import { ROOT } from './helpers/cli.js';
import { writeTinyModelDir } from './helpers/vision-tiny-classifier.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-classifier-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const DEFAULT_MODEL = path.join(ROOT, 'models/maskwatch-default');

/** A 300×200 frame: left half red, right half green, with a blue square at the bottom right. */
function colourFrame(): Frame {
  const width = 300;
  const height = 200;
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const blue = x >= 230 && y >= 130;
      rgb[o] = !blue && x < 150 ? 230 : 10;
      rgb[o + 1] = !blue && x >= 150 ? 230 : 10;
      rgb[o + 2] = blue ? 230 : 10;
    }
  return { seq: 1, capturedAt: 0, width, height, rgb };
}

test('loads a model dir, batches all faces in one run, labels each crop from its pixels', async () => {
  const dir = path.join(tmp, 'ok');
  writeTinyModelDir(dir, { int8: true });
  const c = await createMaskClassifier({ modelDir: dir, precision: 'int8' });
  try {
    assert.equal(c.info.precision, 'int8');
    assert.equal(c.info.inputSize, 224);
    assert.equal(c.info.sha256, readModelCard(dir).files.int8!.sha256);
    const verdicts = await c.classifyFaces(colourFrame(), [
      { x: 20, y: 40, w: 60, h: 60 }, // red
      { x: 180, y: 20, w: 50, h: 50 }, // green
      { x: 245, y: 145, w: 40, h: 40 }, // blue (its margin square stays inside the blue patch)
    ]);
    assert.deepEqual(verdicts.map((v) => v.label), ['no_mask', 'mask', 'mask_incorrect']);
    for (const v of verdicts) {
      assert.ok(Math.abs(v.probs.mask + v.probs.no_mask + v.probs.mask_incorrect - 1) < 1e-5);
      assert.equal(v.score, v.probs[v.label]);
    }
    assert.deepEqual(await c.classifyFaces(colourFrame(), []), []);
  } finally {
    await c.close();
  }
});

test('int8 not in the card: warns and runs the float model', async () => {
  const dir = path.join(tmp, 'float-only');
  writeTinyModelDir(dir);
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    const c = await createMaskClassifier({ modelDir: dir, precision: 'int8' });
    assert.equal(c.info.precision, 'float');
    await c.close();
  } finally {
    setLogSink(previous);
  }
  assert.equal(lines.filter((l) => /WARN.*no int8 file.*float/.test(l)).length, 1);
});

test('a model file that does not match its card sha256 is refused', async () => {
  const dir = path.join(tmp, 'tampered');
  writeTinyModelDir(dir);
  fs.appendFileSync(path.join(dir, 'classifier.onnx'), Buffer.from([0]));
  await assert.rejects(createMaskClassifier({ modelDir: dir, precision: 'float' }), (err: Error) => err instanceof ModelError && /sha256 .* does not match its card/.test(err.message));
});

test('an ONNX input shape different from the card is one clear error', async () => {
  const dir = path.join(tmp, 'wrong-shape');
  writeTinyModelDir(dir, { onnxSize: 160, cardSize: 224 });
  await assert.rejects(createMaskClassifier({ modelDir: dir, precision: 'float' }), (err: Error) => err instanceof ModelError && /has shape \[-1, 160, 160, 3\], but the card says \[N, 224, 224, 3\]/.test(err.message));
});

test('a missing model dir or card is one clear error', async () => {
  await assert.rejects(createMaskClassifier({ modelDir: path.join(tmp, 'nope'), precision: 'float' }), /no such folder/);
  const dir = path.join(tmp, 'no-file');
  const card = writeTinyModelDir(dir);
  fs.rmSync(path.join(dir, 'classifier.onnx'));
  writeModelCard(dir, card);
  await assert.rejects(createMaskClassifier({ modelDir: dir, precision: 'float' }), /classifier\.onnx: no such file/);
});

test('logits get a softmax, probabilities are kept as they are', () => {
  const labels = ['mask', 'no_mask', 'mask_incorrect'] as const;
  const fromProbs = toVerdict([0.2, 0.7, 0.1], labels);
  assert.equal(fromProbs.label, 'no_mask');
  assert.equal(fromProbs.score, 0.7);
  const fromLogits = toVerdict([2, 0, -1], labels);
  assert.equal(fromLogits.label, 'mask');
  assert.ok(Math.abs(fromLogits.score - Math.exp(2) / (Math.exp(2) + 1 + Math.exp(-1))) < 1e-9);
});

test('the crop is the training margin square, clipped at the picture edges', () => {
  assert.deepEqual(faceCropRegion({ x: 100, y: 100, w: 50, h: 40 }, { width: 640, height: 480 }, 0.2), { x: 90, y: 85, w: 70, h: 70 });
  assert.deepEqual(faceCropRegion({ x: 0, y: 0, w: 50, h: 50 }, { width: 640, height: 480 }, 0.2), { x: 0, y: 0, w: 60, h: 60 });
});

test('trained default model: unmasked faces of the sample photos are no_mask', { skip: fs.existsSync(DEFAULT_MODEL) ? false : 'models/maskwatch-default not built yet (the training helper makes it)' }, async () => {
  const { BlazeFaceDetector } = await import('../src/vision/blazeface-detector.js');
  const { readImageFile } = await import('../src/vision/image-decode.js');
  const detector = new BlazeFaceDetector({ variant: 'back', scoreThreshold: 0.75, iouThreshold: 0.3, minFaceSize: 20, maxFaces: 10 });
  await detector.start();
  const c = await createMaskClassifier({ modelDir: DEFAULT_MODEL, precision: 'float' });
  try {
    let noMask = 0;
    let total = 0;
    for (const name of ['sample1.jpg', 'sample5.jpg', 'sample6.jpg']) {
      const frame = { seq: 0, capturedAt: 0, ...(await readImageFile(path.join(ROOT, 'test/fixtures/faces', name))) };
      const faces = await detector.detect(frame);
      const verdicts = await c.classifyFaces(frame, faces.map((f) => f.box));
      total += verdicts.length;
      noMask += verdicts.filter((v) => v.label === 'no_mask').length;
    }
    assert.equal(total, 12);
    assert.ok(noMask >= 10, `${noMask} of ${total} unmasked faces called no_mask`);
  } finally {
    await detector.close();
    await c.close();
  }
});

test('trained default model: the masked faces of masked1/2.jpg are mask (front detector, int8 and float)', { skip: fs.existsSync(DEFAULT_MODEL) ? false : 'models/maskwatch-default not built yet (the training helper makes it)' }, async () => {
  const { BlazeFaceDetector } = await import('../src/vision/blazeface-detector.js');
  const { readImageFile } = await import('../src/vision/image-decode.js');
  const detector = new BlazeFaceDetector({ variant: 'front', scoreThreshold: 0.75, iouThreshold: 0.3, minFaceSize: 32, maxFaces: 10 });
  await detector.start();
  const classifiers = [await createMaskClassifier({ modelDir: DEFAULT_MODEL, precision: 'float' }), await createMaskClassifier({ modelDir: DEFAULT_MODEL, precision: 'int8' })];
  try {
    for (const name of ['masked1.jpg', 'masked2.jpg']) {
      const frame = { seq: 0, capturedAt: 0, ...(await readImageFile(path.join(ROOT, 'test/fixtures/faces', name))) };
      const faces = await detector.detect(frame);
      assert.equal(faces.length, 1, `${name}: one person`);
      for (const c of classifiers) {
        const [v] = await c.classifyFaces(frame, [faces[0]!.box]);
        assert.equal(v!.label, 'mask', `${name} ${c.info.precision}: ${JSON.stringify(v!.probs)}`);
      }
    }
  } finally {
    await detector.close();
    for (const c of classifiers) await c.close();
  }
});
