/**
 * BlazeFace on ONNX Runtime with the shipped models, on real group photos (test/fixtures/faces, 800 px wide).
 * The photos' faces are small (about 10 % of the width), which is the full-range "back" model's job; the
 * short-range "front" model is checked on a closer view (a crop around one person).
 * Expected counts were made by looking at the photos: sample1 3 faces, sample5 5, sample6 4.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import type { Face, Frame } from '../src/core/types.js';
import { ANCHOR_OPTIONS, generateAnchors, iou, weightedNms } from '../src/vision/blazeface-decode.js';
import { faceCropRegion } from '../src/vision/face-crop.js';
import { BlazeFaceDetector, type BlazeFaceOptions } from '../src/vision/blazeface-detector.js';
import { FaceLandmarker, LANDMARK } from '../src/vision/face-landmarks.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { ROOT } from './helpers/cli.js';

const FACES = path.join(ROOT, 'test/fixtures/faces');
const EXPECTED: Record<string, number> = { 'sample1.jpg': 3, 'sample5.jpg': 5, 'sample6.jpg': 4 };
const { config } = loadConfig({ env: {} });
const BLAZE: BlazeFaceOptions = { variant: 'front', scoreThreshold: 0.75, iouThreshold: 0.3, minFaceSize: config.detector.minFaceSize, maxFaces: config.detector.maxFaces };

let back: BlazeFaceDetector;
let front: BlazeFaceDetector;
let landmarker: FaceLandmarker;
const frames = new Map<string, Frame>();

before(async () => {
  back = new BlazeFaceDetector({ ...BLAZE, variant: 'back', minFaceSize: 20 });
  front = new BlazeFaceDetector({ ...BLAZE, variant: 'front', minFaceSize: 20 });
  landmarker = new FaceLandmarker();
  await Promise.all([back.start(), front.start(), landmarker.start()]);
  for (const name of Object.keys(EXPECTED)) frames.set(name, { seq: 0, capturedAt: 0, ...(await readImageFile(path.join(FACES, name))) });
});
after(async () => {
  await back?.close();
  await front?.close();
  await landmarker?.stop();
});

test('anchors: 896 for both variants, 512 on the fine grid first', () => {
  for (const v of ['front', 'back'] as const) {
    const a = generateAnchors(ANCHOR_OPTIONS[v]);
    assert.equal(a.length / 2, 896);
    assert.deepEqual([a[0], a[1]], [0.5 / 16, 0.5 / 16]); // 16×16 grid, 2 anchors per cell
    assert.equal(a[2], a[0]);
    assert.deepEqual([a[1024], a[1025]], [0.5 / 8, 0.5 / 8]); // then the 8×8 grid, 6 per cell
  }
});

for (const [name, count] of Object.entries(EXPECTED)) {
  test(`back model finds the ${count} faces of ${name} at the default thresholds, boxes in image pixels`, async () => {
    const frame = frames.get(name)!;
    const faces = await back.detect(frame);
    assert.equal(faces.length, count, `faces: ${faces.map((f) => `${f.score.toFixed(2)}@${f.box.x.toFixed(0)},${f.box.y.toFixed(0)}`).join(' ')}`);
    for (let i = 0; i < faces.length; i++) {
      const f = faces[i]!;
      if (i > 0) assert.ok(faces[i - 1]!.score >= f.score, 'sorted by score');
      assert.ok(f.score >= BLAZE.scoreThreshold);
      assert.ok(f.box.x >= 0 && f.box.y >= 0 && f.box.x + f.box.w <= frame.width && f.box.y + f.box.h <= frame.height, 'inside the image');
      assert.ok(f.box.w > 50 && f.box.w < 130, `a face is about a tenth of the 800 px width, got ${f.box.w}`);
      assert.equal(f.keypoints.length, 6);
      assertKeypointsInBox(f);
      for (const g of faces.slice(i + 1)) assert.ok(iou(f.box, g.box) < 0.3, 'no duplicates after NMS');
    }
  });
}

test('front model finds the one face in a close view, agreeing with the back model', async () => {
  const full = frames.get('sample5.jpg')!;
  const crop = cropFrame(full, 240, 20, 240, 180);
  const f = await front.detect(crop);
  const b = await back.detect(crop);
  assert.equal(f.length, 1);
  assert.equal(b.length, 1);
  assert.ok(iou(f[0]!.box, b[0]!.box) > 0.7, `front ${JSON.stringify(f[0]!.box)} vs back ${JSON.stringify(b[0]!.box)}`);
});

test('min face size and max faces are applied', async () => {
  const frame = frames.get('sample5.jpg')!;
  const all = await back.detect(frame);
  const big = new BlazeFaceDetector({ ...BLAZE, variant: 'back', minFaceSize: 80, maxFaces: 2 });
  await big.start();
  try {
    const some = await big.detect(frame);
    assert.ok(some.length <= 2 && some.length > 0);
    assert.ok(some.every((f) => f.box.w >= 80));
    assert.ok(all.some((f) => f.box.w < 80), 'the photo has smaller faces that were dropped');
  } finally {
    await big.close();
  }
});

test('a blank frame has no faces', async () => {
  const rgb = Buffer.alloc(640 * 480 * 3, 128);
  assert.deepEqual(await back.detect({ seq: 0, capturedAt: 0, width: 640, height: 480, rgb }), []);
  assert.deepEqual(await front.detect({ seq: 0, capturedAt: 0, width: 640, height: 480, rgb }), []);
});

test('the classifier crop of each detected face holds a face (FaceMesh face flag), landmarks land inside it', async () => {
  for (const name of Object.keys(EXPECTED)) {
    const frame = frames.get(name)!;
    const faces = await back.detect(frame);
    const regions = faces.map((f) => faceCropRegion(f.box, frame, 0.15));
    const marks = await landmarker.runRegions(regions.map((region) => ({ image: frame, region })));
    marks.forEach((m, i) => {
      assert.ok(m.faceScore > 0.5, `${name} face ${i}: face flag ${m.faceScore}`);
      const nose = m.points[LANDMARK.noseTip]!;
      const box = faces[i]!.box;
      const nx = regions[i]!.x + nose[0];
      const ny = regions[i]!.y + nose[1];
      assert.ok(nx > box.x && nx < box.x + box.w && ny > box.y && ny < box.y + box.h, `${name} face ${i}: nose tip ${nx},${ny} outside its box`);
      assert.ok(m.points[LANDMARK.chin]![1] > m.points[LANDMARK.noseTip]![1], 'chin below the nose');
    });
  }
  const wall = await landmarker.runRegions([{ image: frames.get('sample5.jpg')!, region: { x: 700, y: 20, w: 90, h: 90 } }]);
  assert.ok(wall[0]!.faceScore < 0.5, `a bit of wall is no face (flag ${wall[0]!.faceScore})`);
});

test('weighted NMS merges overlapping detections into their score-weighted mean', () => {
  const kp = Array.from({ length: 6 }, () => ({ x: 0, y: 0 }));
  const merged = weightedNms(
    [
      { box: { x: 0, y: 0, w: 1, h: 1 }, keypoints: kp, score: 0.9 },
      { box: { x: 0.1, y: 0, w: 1, h: 1 }, keypoints: kp, score: 0.3 },
      { box: { x: 5, y: 5, w: 1, h: 1 }, keypoints: kp, score: 0.8 },
    ],
    0.3,
    10,
  );
  assert.equal(merged.length, 2);
  assert.equal(merged[0]!.score, 0.9);
  assert.ok(Math.abs(merged[0]!.box.x - 0.025) < 1e-9);
});

function assertKeypointsInBox(f: Face): void {
  const slack = f.box.w * 0.35; // ears sit at the box edge
  for (const k of f.keypoints.slice(0, 4)) assert.ok(k.x > f.box.x - 1 && k.x < f.box.x + f.box.w + 1 && k.y > f.box.y - 1 && k.y < f.box.y + f.box.h + 1, 'eyes, nose, mouth in the box');
  for (const k of f.keypoints.slice(4)) assert.ok(k.x > f.box.x - slack && k.x < f.box.x + f.box.w + slack);
}

function cropFrame(frame: Frame, x: number, y: number, w: number, h: number): Frame {
  const rgb = Buffer.alloc(w * h * 3);
  for (let row = 0; row < h; row++) rgb.set(frame.rgb.subarray(((y + row) * frame.width + x) * 3, ((y + row) * frame.width + x + w) * 3), row * w * 3);
  return { seq: 0, capturedAt: 0, width: w, height: h, rgb };
}
