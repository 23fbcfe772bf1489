import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../src/onnx/builder.js';
import { classify, compareClassifiers, inspectOptimizedOps, quantizeOnnx, summarizeKernels } from '../src/onnx/quantize.js';
import { argmax } from '../src/onnx/quantize-inspect.js';
import { activationParams } from '../src/onnx/quantize-qdq.js';
import { quantizeWeights } from '../src/onnx/quantize-weights.js';
import { buildQuantizeTestNet, NET_SIZE, randomInputs } from './helpers/quantize-net.js';

const floatModel = buildQuantizeTestNet(3); // a seed whose random head gives two labels in about equal shares
const calibration = randomInputs(32, 100);
const evaluation = randomInputs(80, 200);

test('per-channel symmetric weights: zero point 0, scale max|w|/127 per output channel, int32 bias', () => {
  const w = Float32Array.from([0.5, -1, 0.25, 2, 0, 1]); // 2 channels × 3 along axis 0
  const q = quantizeWeights(w, [2, 3], 0, { perChannel: true, bias: Float32Array.from([0.1, -0.2]), inputScale: 0.01 });
  assert.deepEqual(Array.from(q.scales, (s) => +s.toFixed(6)), [+(1 / 127).toFixed(6), +(2 / 127).toFixed(6)]);
  assert.deepEqual(Array.from(q.values), [64, -127, 32, 127, 0, 64]);
  assert.deepEqual(Array.from(q.biasValues!), [Math.round(0.1 / (0.01 / 127)), Math.round(-0.2 / (0.01 * (2 / 127)))]);
  const axis1 = quantizeWeights(Float32Array.from([1, 4, -2, 8]), [2, 2], 1, { perChannel: true, inputScale: 1 });
  assert.deepEqual(Array.from(axis1.values), [64, 64, -127, 127]);
  const act = activationParams({ min: -1, max: 3 });
  assert.ok(Math.abs(act.scale - 4 / 255) < 1e-9);
  assert.equal(act.zeroPoint, 64);
  assert.equal(activationParams({ min: 0.5, max: 2 }).zeroPoint, 0, 'the range always includes 0');
});

test('quantizeOnnx writes a valid QDQ model: int8 weights, Pad folded, Clip/Relu fused, Softmax kept float', async () => {
  const { model, report } = await quantizeOnnx(floatModel, calibration, { method: 'minmax' });
  assert.equal(report.calibrationSamples, 32);
  assert.equal(report.foldedPads, 1);
  assert.equal(report.fusedActivations, 4, '3 Clip + 1 Relu folded into their producers');
  assert.equal(report.tensorsQuantized.weights, 6, '4 Conv + Gemm + MatMul');
  assert.equal(report.opsBefore.Conv, 4);
  assert.equal(report.opsAfter.Clip, undefined);
  assert.equal(report.opsAfter.Pad, undefined);
  assert.equal(report.opsAfter.Softmax, 1);
  assert.ok(report.bytes.int8 < report.bytes.float, `int8 ${report.bytes.int8} < float ${report.bytes.float}`);
  const graph = decodeModel(model).graph!;
  const inits = new Map(graph.initializer!.map((t) => [t.name, t]));
  const INT8 = 3;
  const INT32 = 6;
  for (const n of graph.node!.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul')) {
    const dq = graph.node!.find((d) => d.output![0] === n.input![1])!;
    assert.equal(dq.opType, 'DequantizeLinear', `${n.name}: weight goes through DequantizeLinear`);
    assert.equal(inits.get(dq.input![0])!.dataType, INT8);
    if (n.input![2]) assert.equal(inits.get(graph.node!.find((d) => d.output![0] === n.input![2])!.input![0])!.dataType, INT32);
  }
  const produced = new Set<string>(['input', ...graph.initializer!.map((t) => t.name!)]);
  for (const n of graph.node!) {
    for (const i of n.input!) if (i) assert.ok(produced.has(i), `${n.name}: input ${i} is used before it is produced`);
    for (const o of n.output!) {
      assert.ok(!produced.has(o), `tensor ${o} produced twice`);
      produced.add(o);
    }
  }
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
  const out = await session.run({ input: new ort.Tensor('float32', evaluation[0]!, [1, NET_SIZE, NET_SIZE, 3]) });
  const probs = Array.from(out.probs!.data as Float32Array);
  assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'probs still sum to 1 (Softmax in float)');
  await session.release();
});

test('ONNX Runtime runs the quantized model with integer kernels and no float Conv', async () => {
  const { model } = await quantizeOnnx(floatModel, calibration, { method: 'minmax' });
  const floatOps = summarizeKernels(await inspectOptimizedOps(floatModel));
  assert.equal(floatOps.integer, 0);
  const ops = await inspectOptimizedOps(model);
  const kernels = summarizeKernels(ops);
  const qconv = Object.entries(ops).filter(([op]) => op.endsWith('QLinearConv')).reduce((a, [, n]) => a + n, 0);
  assert.equal(qconv, 4, `every Conv became QLinearConv: ${JSON.stringify(ops)}`);
  assert.equal(kernels.floatConv, 0, JSON.stringify(ops));
  assert.ok(kernels.integer >= 7, `QLinearConv ×4, QLinearAdd, QLinearGlobalAveragePool, QGemm …: ${JSON.stringify(ops)}`);
});

for (const method of ['minmax', 'percentile'] as const)
  test(`int8 (${method}) agrees with float on clear-cut inputs`, async () => {
    const { model } = await quantizeOnnx(floatModel, calibration, { method, weightType: 'uint8' });
    const probs = await classify(floatModel, evaluation);
    const clear = evaluation.filter((_, i) => {
      const p = [...probs[i]!].sort((a, b) => b - a);
      return p[0]! - p[1]! > 0.1;
    });
    assert.ok(clear.length >= 40, `enough clear-cut inputs (${clear.length})`);
    const labels = new Set(probs.map((p) => argmax(p)));
    assert.ok(labels.size >= 2, 'the random net does not give one label to everything');
    const agreement = await compareClassifiers(floatModel, model, clear);
    assert.ok(agreement.labelAgreement >= 0.95, `label agreement ${agreement.labelAgreement} on ${clear.length}`);
    assert.ok(agreement.meanProbDiff < 0.05, `mean |Δp| ${agreement.meanProbDiff}`);
    assert.ok(agreement.maxProbDiff > 0, 'the int8 model is not the float model');
  });

test('bad input: no calibration, wrong calibration size, unknown method', async () => {
  await assert.rejects(quantizeOnnx(floatModel, [], { method: 'minmax' }), /no calibration inputs/);
  await assert.rejects(quantizeOnnx(floatModel, [new Float32Array(5)], { method: 'minmax' }), /input 0 has 5 values, the model takes 3072/);
  await assert.rejects(quantizeOnnx(floatModel, calibration, { method: 'kl' as 'minmax' }), /method must be minmax or percentile/);
});
