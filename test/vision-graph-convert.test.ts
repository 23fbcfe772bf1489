/**
 * The TF.js → ONNX converter: each shipped MediaPipe model, run by ONNX Runtime, agrees with the original
 * TF.js graph model (cpu backend) on a real face photo. Reads the originals from ../shared/models because
 * the product ships only the converted .onnx; skipped (with the reason) where that folder is absent.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { convertGraphModel, GraphConvertError, readTfjsGraphModel } from '../src/onnx/graph-convert.js';
import { decodeWeights, halfToFloat, type TfjsGraphModelJson } from '../src/onnx/graph-weights.js';
import { resampleInto, TO_PLUS_MINUS_ONE, TO_UNIT, type Normalization } from '../src/vision/resample.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { sha256, sha256File } from '../src/core/files.js';
import { ROOT } from './helpers/cli.js';

const SHARED = path.resolve(ROOT, '..', 'shared', 'models');
const FACES = path.join(ROOT, 'test/fixtures/faces');
const haveShared = fs.existsSync(path.join(SHARED, 'facemesh', 'facemesh.json'));

async function tfjs() {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  return tf;
}

const CASES: Array<{ name: string; size: number; norm: Normalization; region: { x: number; y: number; w: number; h: number } }> = [
  { name: 'blazeface-front', size: 128, norm: TO_PLUS_MINUS_ONE, region: { x: 240, y: 20, w: 240, h: 240 } },
  { name: 'blazeface-back', size: 256, norm: TO_PLUS_MINUS_ONE, region: { x: 0, y: 0, w: 800, h: 800 } },
  { name: 'facemesh', size: 192, norm: TO_UNIT, region: { x: 300, y: 45, w: 115, h: 115 } },
];

for (const c of CASES) {
  test(`${c.name}: ONNX Runtime matches TF.js on a face photo`, { skip: haveShared ? false : `no ${SHARED} (originals not shipped)` }, async () => {
    const tf = await tfjs();
    const { json, weightData } = readTfjsGraphModel(path.join(SHARED, c.name, `${c.name}.json`));
    const converted = convertGraphModel(json, weightData, c.name);
    const image = await readImageFile(path.join(FACES, 'sample5.jpg'));
    const x = new Float32Array(c.size * c.size * 3);
    resampleInto(image, c.region, c.size, c.size, { norm: c.norm, antialias: false }, x);

    const session = await ort.InferenceSession.create(converted.onnx);
    const onnxOut = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [1, c.size, c.size, 3]) });
    const weightBuffer = weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength);
    const model = await tf.loadGraphModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never, weightData: weightBuffer, format: json.format }),
    );
    const names = converted.outputs.map((o) => o.name);
    const tfOut = model.execute(tf.tensor4d(x, [1, c.size, c.size, 3]), names.map((n) => `${n}:0`)) as import('@tensorflow/tfjs').Tensor[];
    for (let i = 0; i < names.length; i++) {
      const a = onnxOut[names[i]!]!;
      const b = tfOut[i]!;
      assert.deepEqual([...a.dims], b.shape, `${names[i]} shape`);
      const av = a.data as Float32Array;
      const bv = b.dataSync();
      let worst = 0;
      let scale = 1;
      for (let j = 0; j < av.length; j++) {
        worst = Math.max(worst, Math.abs(av[j]! - bv[j]!));
        scale = Math.max(scale, Math.abs(bv[j]!));
      }
      // ≤ 1e-4 relative to the output's magnitude (BlazeFace regressors reach a few hundred pixels).
      assert.ok(worst / scale <= 1e-4, `${c.name} ${names[i]}: max |onnx − tfjs| ${worst} on values up to ${scale}`);
    }
    tf.dispose(tfOut);
    model.dispose();
    await session.release();
  });
}

test('facemesh weights are float16 in TF.js and decode to the same float32 TF.js uses', { skip: haveShared ? false : 'no shared models' }, () => {
  const { json, weightData } = readTfjsGraphModel(path.join(SHARED, 'facemesh', 'facemesh.json'));
  assert.ok(json.weightsManifest[0]!.weights.some((w) => w.quantization?.dtype === 'float16'));
  const weights = decodeWeights(json, weightData);
  const spec = json.weightsManifest[0]!.weights[0]!;
  const raw = new DataView(weightData.buffer, weightData.byteOffset);
  assert.equal(weights.get(spec.name)!.data[0], halfToFloat(raw.getUint16(0, true)));
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
});

test('an unsupported op is one clear error naming it', () => {
  const json: TfjsGraphModelJson = {
    modelTopology: {
      node: [
        { name: 'input', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: 1 }, { size: 4 }, { size: 4 }, { size: 3 }] } } } },
        { name: 'soft', op: 'Softmax', input: ['input'] },
      ],
    },
    weightsManifest: [],
  };
  assert.throws(() => convertGraphModel(json, new Uint8Array(0)), (err: Error) => err instanceof GraphConvertError && /unsupported TF\.js op Softmax \(node soft\)/.test(err.message));
});

test('TF SAME padding becomes explicit pads that match TF output sizes (odd input, stride 2)', async () => {
  // 1×5×5×1 input, 3×3 all-ones filter, stride 2, SAME: TF pads 1 before and 1 after → 3×3 output of window sums.
  const filter = new Float32Array(9).fill(1);
  const json: TfjsGraphModelJson = {
    modelTopology: {
      node: [
        { name: 'input', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: 1 }, { size: 5 }, { size: 5 }, { size: 1 }] } } } },
        { name: 'w', op: 'Const' },
        { name: 'conv', op: 'Conv2D', input: ['input', 'w'], attr: { strides: { list: { i: [1, 2, 2, 1] } }, padding: { s: Buffer.from('SAME').toString('base64') } } },
        { name: 'Identity', op: 'Identity', input: ['conv'] },
      ],
    },
    weightsManifest: [{ paths: [], weights: [{ name: 'w', shape: [3, 3, 1, 1], dtype: 'float32' }] }],
  };
  const { onnx, outputs } = convertGraphModel(json, new Uint8Array(filter.buffer));
  assert.deepEqual(outputs[0]!.shape, [1, 3, 3, 1]);
  const session = await ort.InferenceSession.create(onnx);
  const x = new Float32Array(25).fill(1);
  const out = (await session.run({ input: new ort.Tensor('float32', x, [1, 5, 5, 1]) })).Identity!;
  // Corners see a 2×2 window, edges 2×3, the centre 3×3.
  assert.deepEqual(Array.from(out.data as Float32Array), [4, 6, 4, 6, 9, 6, 4, 6, 4]);
  await session.release();
});

test('the shipped models/*.onnx are exactly what the converter makes from the originals (README sha256 too)', { skip: haveShared ? false : 'no shared models' }, () => {
  for (const c of CASES) {
    const { json, weightData } = readTfjsGraphModel(path.join(SHARED, c.name, `${c.name}.json`));
    const fresh = sha256(convertGraphModel(json, weightData, c.name).onnx);
    const shipped = path.join(ROOT, 'models', c.name, `${c.name}.onnx`);
    assert.equal(sha256File(shipped), fresh, `${shipped} is stale: run npm run models:convert`);
    assert.ok(fs.readFileSync(path.join(ROOT, 'models', c.name, 'README.md'), 'utf8').includes(`${fresh}  ${c.name}.onnx`));
  }
});
