/**
 * The int8 SSD's stem read as 4 channels (src/onnx/pad-stem-channels.ts): the rewritten graph holds the same weights
 * plus zeros, gives the same numbers bit for bit on real photos, is applied only where it matches, and the detector
 * finds the same faces with it as without.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { Frame } from '../src/core/types.js';
import { decodeModel, tensorToFloat32 } from '../src/onnx/builder.js';
import { padQuantizedStemChannels } from '../src/onnx/pad-stem-channels.js';
import { openSession } from '../src/onnx/session.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { resampleInto, TO_UNIT, wholeImage } from '../src/vision/resample.js';
import { padsInt8Stem, SsdFaceDetector, ssdModelFile, SSD_CLS_OUTPUT, SSD_LOC_OUTPUT } from '../src/vision/ssd-detector.js';
import { ROOT } from './helpers/cli.js';

const INT8 = ssdModelFile('int8');
const SIZE = 260;
const KAGGLE = path.resolve(ROOT, '..', 'shared', 'datasets', 'kaggle-face-mask', 'images');

/** Real pictures: the face fixtures, the precision check frames and, where ../shared is here, 30 Kaggle photos. */
function pictureFiles(): string[] {
  const inDir = (dir: string, n = Infinity) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, n).map((f) => path.join(dir, f)) : []);
  return [...inDir(path.join(ROOT, 'test/fixtures/faces')), ...inDir(path.join(ROOT, 'models/precision-check/frames')), ...inDir(KAGGLE, 30)];
}

const frames: Frame[] = [];
before(async () => {
  for (const f of pictureFiles()) frames.push({ seq: frames.length, capturedAt: 0, ...(await readImageFile(f)) });
});

test('the padded int8 SSD reads 4 channels: the stem keeps its weights, the fourth channel weighs 0, nothing else changes', () => {
  const original = fs.readFileSync(INT8);
  const padded = padQuantizedStemChannels(original);
  assert.ok(padded, 'the shipped int8 SSD has a QDQ int8 stem on its 3-channel input');
  assert.equal(padded.channels, 4);
  const before = decodeModel(original).graph!;
  const now = decodeModel(padded.model).graph!;
  assert.equal(Number(now.input![0]!.type!.tensorType!.shape!.dim![1]!.dimValue), 4);
  assert.deepEqual(now.node!.map((n) => n.opType), before.node!.map((n) => n.opType), 'same nodes');
  let changed = 0;
  for (const t of before.initializer!) {
    const u = now.initializer!.find((x) => x.name === t.name)!;
    const a = Buffer.from(t.rawData ?? []);
    const b = Buffer.from(u.rawData ?? []);
    if (a.equals(b) && String(t.dims) === String(u.dims)) continue;
    changed++;
    const [o, c, kh, kw] = t.dims!.map(Number) as [number, number, number, number];
    assert.deepEqual(u.dims!.map(Number), [o, 4, kh, kw], `${t.name}: the stem weight gains a channel`);
    for (let oc = 0; oc < o; oc++) {
      const k = kh * kw;
      assert.ok(a.subarray(oc * c * k, (oc + 1) * c * k).equals(b.subarray(oc * 4 * k, oc * 4 * k + c * k)), `${t.name}: filter ${oc} keeps its weights`);
      assert.ok(b.subarray(oc * 4 * k + c * k, (oc + 1) * 4 * k).every((v) => v === 0), `${t.name}: filter ${oc} weighs the fourth channel 0`);
    }
  }
  assert.equal(changed, 1, 'only the stem weight differs');
});

test('the padded int8 SSD gives the same numbers bit for bit on real photos', async () => {
  const padded = padQuantizedStemChannels(fs.readFileSync(INT8))!;
  const three = await openSession(INT8, { intraOpNumThreads: 1 });
  const four = await openSession(padded.model, { intraOpNumThreads: 1 });
  try {
    assert.ok(frames.length >= 11, `${frames.length} pictures`);
    let values = 0;
    for (const frame of frames) {
      const x3 = new Float32Array(3 * SIZE * SIZE);
      resampleInto(frame, wholeImage(frame), SIZE, SIZE, { norm: TO_UNIT, antialias: false, layout: 'nchw' }, x3);
      const x4 = new Float32Array(4 * SIZE * SIZE);
      x4.set(x3);
      const a = await three.run({ [three.inputNames[0]!]: new ort.Tensor('float32', x3, [1, 3, SIZE, SIZE]) });
      const b = await four.run({ [four.inputNames[0]!]: new ort.Tensor('float32', x4, [1, 4, SIZE, SIZE]) });
      for (const name of [SSD_LOC_OUTPUT, SSD_CLS_OUTPUT]) {
        const u = a[name]!.data as Float32Array;
        const v = b[name]!.data as Float32Array;
        assert.equal(v.length, u.length);
        for (let i = 0; i < u.length; i++) if (!Object.is(u[i], v[i])) assert.fail(`frame ${frame.seq} ${name}[${i}]: ${v[i]} padded, ${u[i]} as stored`);
        values += u.length;
      }
    }
    assert.ok(values > 1e5, `${values} values compared`);
  } finally {
    await three.release();
    await four.release();
  }
});

test('only a QDQ int8 stem on a 3-channel input is padded: not the float SSD, not the float-stem classifier, not twice, not junk', () => {
  assert.equal(padQuantizedStemChannels(fs.readFileSync(ssdModelFile('float'))), null, 'float SSD');
  assert.equal(padQuantizedStemChannels(fs.readFileSync(path.join(ROOT, 'models/maskwatch-default/classifier.int8.onnx'))), null, 'int8 classifier (its first layers are float)');
  const once = padQuantizedStemChannels(fs.readFileSync(INT8))!;
  assert.equal(padQuantizedStemChannels(once.model), null, 'already 4 channels');
  assert.equal(padQuantizedStemChannels(new Uint8Array([1, 2, 3, 250, 251])), null, 'not a model');
  const first = decodeModel(fs.readFileSync(INT8)).graph!.initializer!.find((t) => t.name === 'data_scale')!;
  assert.ok(tensorToFloat32(first)[0]! > 0, 'the input is quantized per tensor (so a zero channel cannot move its scale)');
});

test('padsInt8Stem: the native backend on x64 only', () => {
  assert.equal(padsInt8Stem('native', 'x64'), true);
  assert.equal(padsInt8Stem('native', 'arm64'), false);
  assert.equal(padsInt8Stem('native', 'arm'), false);
  assert.equal(padsInt8Stem('wasm', 'x64'), false);
});

const detectors: SsdFaceDetector[] = [];
after(async () => {
  for (const d of detectors) await d.close();
});

test('the int8 detector with its stem padded finds the same faces as without, to the last bit of every score', async () => {
  const opts = { inputWidth: SIZE, inputHeight: SIZE, scoreThreshold: 0.3, iouThreshold: 0.4, minFaceSize: 0, maxFaces: 50, modelFile: INT8, intraOpNumThreads: 1 };
  const padded = new SsdFaceDetector({ ...opts, padInt8Stem: true });
  const stored = new SsdFaceDetector({ ...opts, padInt8Stem: false });
  detectors.push(padded, stored);
  await padded.start();
  await stored.start();
  assert.deepEqual([padded.inputChannels, stored.inputChannels], [4, 3]);
  let faces = 0;
  for (const frame of frames) {
    const a = await padded.detect(frame);
    const b = await stored.detect(frame);
    assert.deepEqual(a, b, `frame ${frame.seq}`);
    faces += a.length;
  }
  assert.ok(faces >= 20, `${faces} faces`);
  const float = new SsdFaceDetector({ ...opts, modelFile: ssdModelFile('float'), padInt8Stem: true });
  detectors.push(float);
  await float.start();
  assert.equal(float.inputChannels, 3, 'the float file is left as it is');
});
