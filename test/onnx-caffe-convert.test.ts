/**
 * The Caffe → ONNX converter. The AIZOO SSD, converted and run by ONNX Runtime, reproduces the outputs another
 * runtime (OpenCV's Caffe importer) gave on two photos; a conversion broken on purpose does not. The originals and
 * the reference outputs are read from ../shared/models (the product ships only the .onnx): those tests are skipped,
 * with the reason, where that folder is absent. The rest runs on small nets written here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { convertCaffeModel, GraphConvertError, readCaffeModel } from '../src/onnx/caffe-convert.js';
import { parsePrototxt, parseTextProto, readCaffeWeights, type CaffeBlob } from '../src/onnx/caffe-model.js';
import { sha256, sha256File } from '../src/core/files.js';
import { generateSsdAnchors } from '../src/vision/ssd-decode.js';
import { convertSsd, SSD_NAME } from '../scripts/convert-models.js';
import { ROOT } from './helpers/cli.js';

const SHARED = path.resolve(ROOT, '..', 'shared', 'models');
const SSD_DIR = path.join(SHARED, SSD_NAME);
const PROTOTXT = path.join(SSD_DIR, 'face_mask_detection.prototxt');
const CAFFEMODEL = path.join(SSD_DIR, 'face_mask_detection.caffemodel');
const haveShared = fs.existsSync(path.join(SSD_DIR, 'reference', 'reference.json'));
const skipShared = haveShared ? false : `no ${SSD_DIR} (the Caffe originals and reference outputs are not shipped)`;

interface Reference {
  samples: Array<{ name: string; input: string; input_shape: number[]; outputs: Array<{ layer: string; file: string; shape: number[] }> }>;
}

function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Runs a converted model on every reference input: the largest |onnx − reference| per output, or why it cannot compare. */
async function compareWithReference(onnx: Uint8Array): Promise<Array<{ what: string; worst: number; problem?: string }>> {
  const ref = JSON.parse(fs.readFileSync(path.join(SSD_DIR, 'reference', 'reference.json'), 'utf8')) as Reference;
  const session = await ort.InferenceSession.create(onnx);
  const out: Array<{ what: string; worst: number; problem?: string }> = [];
  try {
    for (const s of ref.samples) {
      const got = await session.run({ data: new ort.Tensor('float32', readF32(path.join(SSD_DIR, s.input)), s.input_shape) });
      for (const o of s.outputs) {
        const what = `${s.name} ${o.layer}`;
        const t = got[o.layer];
        if (!t || t.dims.join() !== o.shape.join()) {
          out.push({ what, worst: Infinity, problem: `shape [${t?.dims}] instead of [${o.shape}]` });
          continue;
        }
        const a = t.data as Float32Array;
        const b = readF32(path.join(SSD_DIR, o.file));
        let worst = 0;
        for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        out.push({ what, worst });
      }
    }
  } finally {
    await session.release();
  }
  return out;
}

function convertText(prototxt: string) {
  return convertCaffeModel(parsePrototxt(prototxt, 'edited.prototxt'), readCaffeWeights(fs.readFileSync(CAFFEMODEL)), { graphName: 'edited' });
}

test('AIZOO SSD: ONNX Runtime on the converted model matches the reference outputs (max abs diff ≤ 1e-4)', { skip: skipShared }, async () => {
  const converted = convertSsd(SHARED);
  assert.deepEqual(converted.inputs, [{ name: 'data', dims: [1, 3, 'height', 'width'] }]);
  assert.deepEqual(converted.outputs.map((o) => [o.name, o.shape]), [['loc_branch_concat', [1, 5972, 4]], ['cls_branch_concat', [1, 5972, 2]]]);
  assert.equal(converted.flushedDenormals, 27, 'the first conv has one dead filter (3×3×3) of denormal weights');
  const results = await compareWithReference(converted.onnx);
  assert.equal(results.length, 4);
  for (const r of results) {
    console.log(`  ${r.what}: max |onnx − reference| = ${r.worst.toExponential(2)}`);
    assert.ok(r.worst <= 1e-4, `${r.what}: ${r.problem ?? `max abs diff ${r.worst}`}`);
  }
});

test('AIZOO SSD: the input size is free; anchors follow it (320×240 → 6424 boxes)', { skip: skipShared }, async () => {
  const session = await ort.InferenceSession.create(convertSsd(SHARED).onnx);
  for (const [w, h] of [[320, 240], [240, 320], [160, 160]] as const) {
    const out = await session.run({ data: new ort.Tensor('float32', new Float32Array(3 * w * h).fill(0.5), [1, 3, h, w]) });
    const n = generateSsdAnchors(h, w).length / 4;
    assert.deepEqual(out.loc_branch_concat!.dims, [1, n, 4], `${w}×${h}`);
    assert.deepEqual(out.cls_branch_concat!.dims, [1, n, 2]);
  }
  assert.equal(generateSsdAnchors(240, 320).length / 4, 6424);
  await session.release();
  const { net, weights } = readCaffeModel(PROTOTXT, CAFFEMODEL);
  const fixed = convertCaffeModel(net, weights, { inputSize: { height: 240, width: 320 } });
  assert.deepEqual(fixed.inputs[0]!.dims, [1, 3, 240, 320]);
  assert.deepEqual(fixed.outputs[0]!.dims, [1, 6424, 4]);
});

test('a conversion broken on purpose fails the reference comparison: floor pooling, wrong Permute order', { skip: skipShared }, async () => {
  const text = fs.readFileSync(PROTOTXT, 'utf8');
  const floor = text.replace(/pool: MAX/g, 'pool: MAX\n    round_mode: FLOOR');
  assert.notEqual(floor, text);
  const floorResults = await compareWithReference(convertText(floor).onnx);
  assert.ok(floorResults.every((r) => r.problem?.includes('shape [1,5456,')), `floor pooling: ${JSON.stringify(floorResults)}`);

  const permute = text.replace(/order: 2\n(\s*)order: 3/g, 'order: 3\n$1order: 2');
  assert.notEqual(permute, text);
  const permuteResults = await compareWithReference(convertText(permute).onnx);
  for (const r of permuteResults) {
    console.log(`  wrong Permute, ${r.what}: max |onnx − reference| = ${r.worst.toFixed(3)}`);
    assert.ok(!r.problem && r.worst > 0.1, `${r.what}: same shape, values in the wrong anchor order`);
  }
  // Control: the same path with the text unedited passes, so the edits are what break it.
  assert.ok((await compareWithReference(convertText(text).onnx)).every((r) => r.worst <= 1e-4));
});

test('the shipped models/aizoo-face-mask-ssd .onnx is exactly what the converter makes (README sha256 too)', { skip: skipShared }, () => {
  const fresh = sha256(convertSsd(SHARED).onnx);
  const shipped = path.join(ROOT, 'models', SSD_NAME, `${SSD_NAME}.onnx`);
  assert.equal(sha256File(shipped), fresh, `${shipped} is stale: run npm run models:convert`);
  const readme = fs.readFileSync(path.join(ROOT, 'models', SSD_NAME, 'README.md'), 'utf8');
  assert.ok(readme.includes(`${fresh}  ${SSD_NAME}.onnx`));
  assert.ok(readme.includes(`${sha256File(CAFFEMODEL)}  face_mask_detection.caffemodel`));
  assert.match(fs.readFileSync(path.join(ROOT, 'models', SSD_NAME, 'LICENSE.md'), 'utf8'), /MIT License[\s\S]*AIZOOTech[\s\S]*converted to ONNX/);
});

test('the real caffemodel: 28 weighted layers, conv2d_0 weights 32×3×3×3 + bias 32', { skip: skipShared }, () => {
  const { net, weights } = readCaffeModel(PROTOTXT, CAFFEMODEL);
  assert.equal(net.layers.length, 79);
  assert.deepEqual(net.inputs, [{ name: 'data', shape: [1, 3, 260, 260] }]);
  assert.equal(weights.size, 28);
  assert.deepEqual(weights.get('conv2d_0')!.map((b) => b.shape), [[32, 3, 3, 3], [32]]);
});

// ---------- small nets written here ----------

/** A caffemodel with the given blobs per layer; `legacy` writes 4-D num/channels/height/width and unpacked floats. */
function caffemodel(layers: Array<{ name: string; blobs: Array<{ shape: number[]; data: number[]; legacy?: boolean }> }>): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string('tiny');
  for (const l of layers) {
    w.uint32((100 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(l.name);
    for (const b of l.blobs) {
      w.uint32((7 << 3) | 2).fork();
      if (b.legacy) {
        const [n, c, h, wd] = [1, 1, 1, 1, ...b.shape].slice(-4);
        w.uint32(1 << 3).int32(n!).uint32(2 << 3).int32(c!).uint32(3 << 3).int32(h!).uint32(4 << 3).int32(wd!);
        for (const v of b.data) w.uint32((5 << 3) | 5).float(v);
      } else {
        w.uint32((7 << 3) | 2).fork().uint32((1 << 3) | 2).fork();
        for (const d of b.shape) w.int64(d);
        w.ldelim().ldelim();
        w.uint32((5 << 3) | 2).fork();
        for (const v of b.data) w.float(v);
        w.ldelim();
      }
      w.ldelim();
    }
    w.ldelim();
  }
  return w.finish();
}

const TINY = `
# a 1-channel image → 1×1 conv to 2 channels → ReLU → 2×2 max pool (rounding up) → NHWC → [1, cells, 2]
name: "tiny"
input: "data"
input_shape { dim: 1 dim: 1 dim: 5 dim: 5 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "xavier" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: 'pool' type: "Pooling" bottom: "conv" top: "pool" pooling_param: { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "perm" type: "Permute" bottom: "pool" top: "perm" permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "flat" type: "Reshape" bottom: "perm" top: "flat" reshape_param { shape { dim: 0 dim: -1 dim: 2 } } }
`;
const TINY_WEIGHTS = caffemodel([{ name: 'conv', blobs: [{ shape: [2, 1, 1, 1], data: [2, -1] }, { shape: [2], data: [0.5, 0], legacy: true }] }]);

/** What the tiny net computes, written out in JS: for an h×w input, [cells × 2] in NHWC order. */
function tinyExpected(x: Float32Array, h: number, w: number): number[] {
  const out: number[] = [];
  const ch = (v: number) => [Math.max(0, 2 * v + 0.5), Math.max(0, -v)];
  for (let py = 0; py < Math.ceil(h / 2); py++)
    for (let px = 0; px < Math.ceil(w / 2); px++)
      for (let c = 0; c < 2; c++) {
        let m = -Infinity;
        for (let y = py * 2; y < Math.min(h, py * 2 + 2); y++) for (let xx = px * 2; xx < Math.min(w, px * 2 + 2); xx++) m = Math.max(m, ch(x[y * w + xx]!)[c]!);
        out.push(m);
      }
  return out;
}

test('a small net written here: conv (with bias from an old-style blob), in-place ReLU, ceil pooling, Permute, Reshape at two input sizes', async () => {
  const weights = readCaffeWeights(TINY_WEIGHTS);
  assert.deepEqual(weights.get('conv')!.map((b: CaffeBlob) => b.shape), [[2, 1, 1, 1], [1, 1, 1, 2]]);
  const converted = convertCaffeModel(parsePrototxt(TINY), weights);
  assert.deepEqual(converted.outputs, [{ name: 'flat', dims: [1, 'flat_d1', 2], shape: [1, 9, 2] }]);
  const session = await ort.InferenceSession.create(converted.onnx);
  for (const [h, w] of [[5, 5], [7, 4]] as const) {
    const x = Float32Array.from({ length: h * w }, (_, i) => (i % 7) - 3.25);
    const got = (await session.run({ data: new ort.Tensor('float32', x, [1, 1, h, w]) })).flat!;
    assert.deepEqual([...got.dims], [1, Math.ceil(h / 2) * Math.ceil(w / 2), 2]);
    assert.deepEqual(Array.from(got.data as Float32Array), tinyExpected(x, h, w), `${h}×${w}`);
  }
  await session.release();
});

test('prototxt text: comments, both quote styles, "field: {" and "field {", repeated fields, enums, booleans', () => {
  const msg = parseTextProto('a: 1 # one\nb: "x\\"y" c: \'z\' d { e: -2.5e1 e: 3 f: MAX g: false }\nd: { }');
  assert.deepEqual(msg, { a: [1], b: ['x"y'], c: ['z'], d: [{ e: [-25, 3], f: ['MAX'], g: [false] }, {}] });
  assert.throws(() => parseTextProto('a { b: 1'), (e: Error) => e instanceof GraphConvertError && /missing '}'/.test(e.message));
  assert.throws(() => parseTextProto('a: "open\n'), /prototxt:1: unterminated string/);
});

test('an unsupported layer type, layer option or missing weights is one error line naming the layer', () => {
  const weights = readCaffeWeights(TINY_WEIGHTS);
  const withLayer = (extra: string) => () => convertCaffeModel(parsePrototxt(TINY + extra), weights);
  const cases: Array<[() => unknown, RegExp]> = [
    [withLayer('layer { name: "prob" type: "Softmax" bottom: "flat" top: "prob" }'), /^layer prob \(Softmax\): unsupported Caffe layer type; the converter handles Convolution, ReLU, Pooling/],
    [() => convertCaffeModel(parsePrototxt(TINY.replace('pool: MAX', 'pool: AVE')), weights), /^layer pool \(Pooling\): pool AVE is not supported \(only MAX\)$/],
    [() => convertCaffeModel(parsePrototxt(TINY.replace('kernel_size: 1', 'kernel_size: 1 axis: 2')), weights), /^layer conv \(Convolution\): convolution_param\.axis is not supported$/],
    [() => convertCaffeModel(parsePrototxt(TINY), new Map()), /^layer conv \(Convolution\): the caffemodel has 0 weight blobs for it, expected 2/],
    [() => convertCaffeModel(parsePrototxt(TINY.replace('kernel_size: 1', 'kernel_size: 3')), weights), /^layer conv \(Convolution\): weights of shape \[2,1,1,1\] do not fit \[2,1,3,3\]/],
    [withLayer('layer { name: "cat" type: "Concat" bottom: "flat" bottom: "nothing" top: "cat" }'), /^layer cat \(Concat\): input blob nothing is not produced by any earlier layer$/],
    [() => parsePrototxt('layers { name: "old" type: CONVOLUTION }', 'v1.prototxt'), /^v1\.prototxt: uses the old V1 'layers' format/],
    [() => readCaffeWeights(Uint8Array.from([0x0a, 0xff, 0xff]), 'bad.caffemodel'), /^bad\.caffemodel: not a Caffe NetParameter/],
    [() => readCaffeModel('/nonexistent/x.prototxt', '/nonexistent/x.caffemodel'), /^\/nonexistent\/x\.prototxt: cannot read it \(ENOENT\)$/],
  ];
  for (const [fn, re] of cases) assert.throws(fn, (e: Error) => e instanceof GraphConvertError && re.test(e.message) && !e.message.includes('\n'), String(re));
});
