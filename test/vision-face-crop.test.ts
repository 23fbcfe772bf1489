/** The one crop path: antialiased resampling, the region rule, and the same numbers for the trainer and the daemon. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import type { RgbImage } from '../src/core/image.js';
import { createRng } from '../src/core/rng.js';
import { decodeFrame } from '../src/daemon/pipeline.js';
import { faceCropRegion } from '../src/vision/face-crop.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { letterboxRegion, resampleInto, resampleSeparable, TO_PLUS_MINUS_ONE, TO_UNIT, wholeImage } from '../src/vision/resample.js';
import { faceInputBatches } from '../src/workflows/data/face-inputs.js';
import { loadLabelledData } from '../src/workflows/data/labelled-data.js';

const VOC = path.resolve('test/fixtures/dataset/voc');
const MODEL = path.resolve('models/maskwatch-default');

function stripes(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.fill(x % 2 ? 255 : 0, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return { width, height, rgb };
}

function spread(values: Float32Array): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
}

test('a 3× downscale of 1-px stripes: antialiased comes out flat grey, plain bilinear keeps aliased stripes', () => {
  const img = stripes(300, 300);
  const smooth = new Float32Array(100 * 100 * 3);
  const plain = new Float32Array(100 * 100 * 3);
  resampleInto(img, wholeImage(img), 100, 100, { norm: TO_UNIT, antialias: true }, smooth);
  resampleInto(img, wholeImage(img), 100, 100, { norm: TO_UNIT, antialias: false }, plain);
  assert.ok(spread(plain) > 0.45, `bilinear aliases (spread ${spread(plain).toFixed(3)})`);
  assert.ok(spread(smooth) < 0.1, `antialiased is near flat (spread ${spread(smooth).toFixed(3)})`);
  const mean = smooth.reduce((a, b) => a + b, 0) / smooth.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean kept (${mean.toFixed(3)})`);
});

test('same size is an exact copy; a region outside the picture is black; NCHW holds the NHWC values', () => {
  const img: RgbImage = { width: 7, height: 5, rgb: Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37) % 256) };
  const same = new Float32Array(7 * 5 * 3);
  resampleInto(img, wholeImage(img), 7, 5, { norm: { scale: 1, offset: 0 }, antialias: true }, same);
  assert.deepEqual([...same], [...img.rgb]);

  const box = letterboxRegion(img.width, img.height);
  const nhwc = new Float32Array(7 * 7 * 3);
  const nchw = new Float32Array(7 * 7 * 3);
  resampleInto(img, box, 7, 7, { norm: { scale: 1, offset: -1 }, antialias: false }, nhwc);
  resampleInto(img, box, 7, 7, { norm: { scale: 1, offset: -1 }, antialias: false, layout: 'nchw' }, nchw);
  assert.deepEqual([...nhwc.subarray(0, 21)], new Array(21).fill(-1), 'the letterbox row above the picture is black');
  for (let y = 0; y < 7; y++) for (let x = 0; x < 7; x++) for (let c = 0; c < 3; c++) assert.equal(nchw[c * 49 + y * 7 + x], nhwc[(y * 7 + x) * 3 + c]);
});

/** Random pictures with regions reaching outside them, shrunk and enlarged, seeded. */
function* resampleCases(seed: number, count: number, maxSide: number, maxOut: number) {
  const random = createRng(seed);
  for (let k = 0; k < count; k++) {
    const width = 2 + Math.floor(random() * maxSide);
    const height = 2 + Math.floor(random() * maxSide);
    const img: RgbImage = { width, height, rgb: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256)) };
    const region = { x: (random() - 0.3) * width, y: (random() - 0.3) * height, w: 1 + random() * width * 1.5, h: 1 + random() * height * 1.5 };
    yield { k, img, region, outW: 1 + Math.floor(random() * maxOut), outH: 1 + Math.floor(random() * maxOut) };
  }
}

test('plain bilinear (and antialiased enlarging, the same two taps) in one 2-D pass gives the same float32 numbers as the two separable passes', () => {
  for (const { k, img, region, outW, outH } of resampleCases(7, 200, 90, 60)) {
    // Both layouts, written at an offset.
    for (const layout of ['nhwc', 'nchw'] as const) {
      const opts = { norm: k % 2 ? TO_UNIT : TO_PLUS_MINUS_ONE, antialias: k % 4 < 2, layout };
      const fast = new Float32Array(outW * outH * 3 + 4).fill(9);
      const general = new Float32Array(outW * outH * 3 + 4).fill(9);
      resampleInto(img, region, outW, outH, opts, fast, 2);
      resampleSeparable(img, region, outW, outH, opts, general, 2);
      for (let i = 0; i < fast.length; i++) assert.ok(Object.is(fast[i], general[i]), `case ${k} ${layout}: value ${i} is ${fast[i]}, the separable passes give ${general[i]}`);
    }
  }
});

/** Per output pixel on one axis, the source pixels and weights of a triangle filter, written out plainly. */
function naiveTaps(start: number, length: number, outSize: number, srcSize: number, antialias: boolean): Array<Array<[number, number]> | null> {
  const scale = length / outSize;
  const support = antialias ? Math.max(1, scale) : 1;
  return Array.from({ length: outSize }, (_, i) => {
    const centre = start + (i + 0.5) * scale;
    if (!(centre >= 0 && centre < srcSize)) return null;
    const taps: Array<[number, number]> = [];
    for (let j = 0; j < srcSize; j++) {
      const w = 1 - Math.abs(j + 0.5 - centre) / support;
      if (w > 0) taps.push([j, w]);
    }
    if (!taps.length) return [[Math.min(srcSize - 1, Math.max(0, Math.round(centre - 0.5))), 1]];
    const total = taps.reduce((a, [, w]) => a + w, 0);
    return taps.map(([j, w]) => [j, w / total]);
  });
}

test('resampling, shrunk or enlarged, antialiased or not, matches a plainly written 2-D triangle filter', () => {
  for (const { k, img, region, outW, outH } of resampleCases(3, 60, 70, 40)) {
    const { width, height } = img;
    const antialias = k % 2 === 0;
    const got = new Float32Array(outW * outH * 3);
    resampleInto(img, region, outW, outH, { norm: TO_UNIT, antialias }, got);
    const xs = naiveTaps(region.x, region.w, outW, width, antialias);
    const ys = naiveTaps(region.y, region.h, outH, height, antialias);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        for (let c = 0; c < 3; c++) {
          let want = 0;
          for (const [sy, wy] of ys[y] ?? []) for (const [sx, wx] of xs[x] ?? []) want += (img.rgb[(sy * width + sx) * 3 + c]! / 255) * wy * wx;
          const v = got[(y * outW + x) * 3 + c]!;
          assert.ok(Math.abs(v - want) < 1e-5, `case ${k} (antialias ${antialias}) pixel ${x},${y} channel ${c}: ${v}, the plain filter gives ${want}`);
        }
      }
    }
  }
});

test('the crop region: square of side max(w,h)·(1+2·margin) in whole pixels, clipped at the edges', () => {
  assert.deepEqual(faceCropRegion({ x: 100, y: 100, w: 40, h: 50 }, { width: 400, height: 300 }, 0.15), { x: 88, y: 93, w: 65, h: 65 });
  assert.deepEqual(faceCropRegion({ x: 390, y: 290, w: 40, h: 40 }, { width: 400, height: 300 }, 0), { x: 390, y: 290, w: 10, h: 10 });
});

test("the trainer's crop of a face and the daemon's crop of the same face are the same numbers", async () => {
  const data = await loadLabelledData([{ path: VOC }], { seed: 1, fractions: [1, 0, 0], duplicateDistance: -1 }, null);
  const sample = data.samples.find((s) => s.box && s.faceSize >= 20)!;
  const classifier = await createMaskClassifier({ modelDir: MODEL, precision: 'float' });
  try {
    const size = classifier.info.inputSize;
    let trainer: Float32Array | undefined;
    for await (const batch of faceInputBatches([{ sample, aug: 0 }], { inputSize: size, margin: classifier.cropMargin, batchSize: 1 })) trainer = batch.inputs.slice();
    const frame = await decodeFrame(fs.readFileSync(sample.file), 1, 0);
    const daemon = classifier.inputsFor(frame, [sample.box!]);
    assert.equal(daemon.length, size * size * 3);
    assert.ok(trainer && trainer.length === daemon.length);
    let differing = 0;
    for (let i = 0; i < daemon.length; i++) if (daemon[i] !== trainer![i]) differing++;
    assert.equal(differing, 0, 'every input value equal');
  } finally {
    await classifier.close();
  }
});
