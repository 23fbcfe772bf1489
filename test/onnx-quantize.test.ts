import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../src/onnx/builder.js';
import { classify, compareClassifiers, floatLayerCandidates, inspectOptimizedOps, leadingLayers, quantizeOnnx, summarizeKernels } from '../src/onnx/quantize.js';
import { quantizeForAgreement } from '../src/onnx/quantize-search.js';
import { argmax } from '../src/onnx/quantize-inspect.js';
import { activationParams } from '../src/onnx/quantize-qdq.js';
import { quantizeWeights } from '../src/onnx/quantize-weights.js';
import { buildQuantizeTestNet, gaussian, NET_SIZE, randomInputs, seededRandom } from './helpers/quantize-net.js';

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
  // With input statistics, a weight that only meets a dead input channel no longer sets the step.
  const aware = quantizeWeights(Float32Array.from([10, 0.3, -0.2]), [1, 3], 0, { perChannel: true, inputScale: 1, importance: (i) => (i === 0 ? 0 : 1) });
  assert.ok(aware.scales[0]! < 10 / 127, `clipped scale ${aware.scales[0]}`);
  const awareError = Math.abs(aware.values[1]! * aware.scales[0]! - 0.3) + Math.abs(aware.values[2]! * aware.scales[0]! + 0.2);
  const plainError = Math.abs(q.values[0]! * 0 + Math.round(0.3 / (10 / 127)) * (10 / 127) - 0.3) + Math.abs(Math.round(-0.2 / (10 / 127)) * (10 / 127) + 0.2);
  assert.ok(awareError < plainError / 2, `error on live weights ${awareError} vs ${plainError}`);
  const act = activationParams({ min: -1, max: 3 });
  assert.ok(Math.abs(act.scale - 4 / 255) < 1e-9);
  assert.equal(act.zeroPoint, 64);
  assert.equal(activationParams({ min: 0.5, max: 2 }).zeroPoint, 0, 'the range always includes 0');
});

test('quantizeOnnx writes a valid QDQ model: 8-bit weights, int32 biases, Pad folded, Clip/Relu fused, Softmax kept float', async () => {
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
  const UINT8 = 2;
  const INT32 = 6;
  for (const n of graph.node!.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul')) {
    const dq = graph.node!.find((d) => d.output![0] === n.input![1])!;
    assert.equal(dq.opType, 'DequantizeLinear', `${n.name}: weight goes through DequantizeLinear`);
    assert.equal(inits.get(dq.input![0])!.dataType, UINT8, 'weights: symmetric levels stored + 128 (u8×u8 kernels)');
    assert.ok(inits.get(dq.input![2])!.rawData!.every((z) => z === 128), 'weight zero point 128');
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

test("weightType 'int8' stores int8 weights with zero point 0", async () => {
  const { model, report } = await quantizeOnnx(floatModel, calibration, { method: 'minmax', weightType: 'int8' });
  assert.equal(report.weightType, 'int8');
  const graph = decodeModel(model).graph!;
  const weightDqs = graph.node!.filter((n) => n.opType === 'DequantizeLinear' && n.input![0]!.includes('weight'));
  assert.equal(weightDqs.length, 6);
  for (const dq of weightDqs) {
    const [w, , zp] = dq.input!.map((name) => graph.initializer!.find((t) => t.name === name)!);
    assert.equal(w!.dataType, 3);
    assert.ok(zp!.rawData!.every((z) => z === 0));
  }
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
    const { model } = await quantizeOnnx(floatModel, calibration, { method });
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

test('GPTQ rounding: less output error than round-to-nearest for correlated inputs', async () => {
  const { gptqRound } = await import('../src/onnx/quantize-gptq.js');
  const rand = seededRandom(5);
  const rows = 8;
  const cols = 24;
  const samples = 400;
  const xs = Array.from({ length: samples }, () => {
    const common = gaussian(rand);
    return Float64Array.from({ length: cols }, (_, c) => common * (c % 3 === 0 ? 2 : 0.5) + gaussian(rand) * (c < 4 ? 3 : 0.3));
  });
  const h = new Float64Array(cols * cols);
  for (const x of xs) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j] += (x[i]! * x[j]!) / samples;
  const w = Float32Array.from({ length: rows * cols }, () => gaussian(rand) * (rand() < 0.05 ? 8 : 1));
  const plain = quantizeWeights(w, [rows, cols], 0, { perChannel: true, inputScale: 1 });
  const compensated = gptqRound(w, rows, cols, plain.scales, h, 127);
  const outputError = (q: Int8Array) => {
    let e = 0;
    for (const x of xs)
      for (let r = 0; r < rows; r++) {
        let d = 0;
        for (let c = 0; c < cols; c++) d += (w[r * cols + c]! - q[r * cols + c]! * plain.scales[r]!) * x[c]!;
        e += d * d;
      }
    return e;
  };
  assert.ok(outputError(compensated) < outputError(plain.values) * 0.8, `${outputError(compensated)} vs ${outputError(plain.values)}`);
});

test('floatLayers keeps the leading layers float: the first conv stays a float Conv, the rest run integer kernels', async () => {
  const graph = decodeModel(floatModel).graph!;
  assert.deepEqual(leadingLayers(graph, 0), []);
  assert.deepEqual(leadingLayers(graph, 1), ['Transpose', 'conv1'], 'the ops before the first conv come along');
  assert.ok(leadingLayers(graph, 3).includes('project1') && !leadingLayers(graph, 3).includes('conv2'));
  assert.throws(() => leadingLayers(graph, 99), /more than the model's 6 weighted layers/);
  assert.throws(() => leadingLayers(graph, -1), /whole number/);
  assert.deepEqual(floatLayerCandidates(graph), [0, 1], 'a quarter of 6 layers: none or the stem');
  const { model, report } = await quantizeOnnx(floatModel, calibration, { method: 'minmax', floatLayers: 1 });
  assert.equal(report.floatLayers, 1);
  assert.deepEqual(report.keptFloat, ['Transpose', 'conv1']);
  const ops = await inspectOptimizedOps(model);
  const kernels = summarizeKernels(ops);
  assert.ok(kernels.floatConv >= 1, `conv1 runs as a float Conv: ${JSON.stringify(ops)}`);
  const qconv = Object.entries(ops).filter(([op]) => op.endsWith('QLinearConv')).reduce((a, [, n]) => a + n, 0);
  assert.equal(qconv, 3, `the other three convs are QLinearConv: ${JSON.stringify(ops)}`);
});

test('quantizeForAgreement stops at the first float prefix that reaches the target, and reports every trial', async () => {
  const check = randomInputs(60, 300);
  const easy = await quantizeForAgreement(floatModel, calibration, check, { method: 'minmax', target: 0.5 });
  assert.equal(easy.trials.length, 1, 'all-int8 already agrees on half the crops');
  assert.equal(easy.chosen.floatLayers, 0);
  assert.ok(easy.met);
  const impossible = await quantizeForAgreement(floatModel, calibration, check, { method: 'minmax', target: 1 });
  const labelsDiffer = impossible.trials.every((t) => t.differing > 0);
  if (labelsDiffer) {
    assert.deepEqual(impossible.trials.map((t) => t.floatLayers), [0, 1], 'every candidate tried');
    assert.equal(impossible.met, false);
    assert.equal(impossible.chosen.agreement, Math.max(...impossible.trials.map((t) => t.agreement)), 'the best one is kept');
  } else assert.ok(impossible.met);
  const fixed = await quantizeForAgreement(floatModel, calibration, check, { method: 'minmax', floatLayers: 1 });
  assert.deepEqual(fixed.trials.map((t) => t.floatLayers), [1]);
  assert.equal(fixed.report.floatLayers, 1);
  await assert.rejects(quantizeForAgreement(floatModel, calibration, [], { method: 'minmax' }), /no check crops/);
});
