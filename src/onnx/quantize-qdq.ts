/**
 * Rewrites a float graph into QDQ form: int8 per-channel symmetric weights, int32 biases, uint8 asymmetric
 * activations with a QuantizeLinear→DequantizeLinear pair on each quantized operator's inputs and outputs.
 * ONNX Runtime's graph optimizer turns DQ→op→Q groups into integer kernels (QLinearConv, QGemm, QLinearAdd ...).
 */
import type { TensorRange } from './quantize-calibrate.js';
import { gptqRound } from './quantize-gptq.js';
import { importanceOfWeights, quantizeWeights } from './quantize-weights.js';
import {
  attrFloat,
  attrInt,
  consumersOf,
  floatValues,
  foldPadsIntoConvs,
  graphOf,
  initializerMap,
  makeTensor,
  NameAllocator,
  topologicalOrder,
  type Graph,
  type Model,
  type Node,
  type Tensor,
} from './quantize-graph.js';

export interface QdqOptions {
  perChannel: boolean;
  /** Node names left in float (e.g. the first conv, whose 3-channel input quantizes poorly). */
  keepFloat?: string[];
  /**
   * 'uint8' stores the symmetric weights shifted by 128 (zero point 128), for CPUs whose u8×s8 kernels saturate.
   * reduceRange uses 7-bit weights (±63), the other cure for that saturation.
   */
  weightType?: 'int8' | 'uint8';
  reduceRange?: boolean;
  /** 'gptq' (default): error-compensating rounding where calibration recorded the input covariance. */
  rounding?: 'nearest' | 'gptq';
}

export interface QdqResult {
  activationTensors: number;
  weightTensors: number;
  biasTensors: number;
  foldedPads: number;
  fusedActivations: number;
}

interface QParams {
  scale: number;
  zeroPoint: number;
}

/** Ops whose integer form ORT has, keyed by which inputs are activations. */
const COMPUTE_OPS = new Set(['Conv', 'Gemm', 'MatMul', 'Add', 'GlobalAveragePool', 'AveragePool']);
/** Ops that only move values: input and output share quantization parameters so ORT drops the QDQ around them. */
const PASSTHROUGH_OPS = new Set(['Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'MaxPool']);
const MIN_OPSET = 13;

export function activationParams(range: TensorRange): QParams {
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  if (!(max - min > 1e-12) || !Number.isFinite(max - min)) return { scale: 1, zeroPoint: 0 };
  const scale = (max - min) / 255;
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-min / scale))) };
}

export function rewriteToQdq(model: Model, ranges: Map<string, TensorRange>, opts: QdqOptions): QdqResult {
  const graph = graphOf(model);
  ensureOpset(model);
  const foldedPads = foldPadsIntoConvs(graph);
  const names = new NameAllocator(graph);
  const inits = initializerMap(graph);
  const keepFloat = new Set(opts.keepFloat ?? []);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const consumers = consumersOf(graph);
  const result: QdqResult = { activationTensors: 0, weightTensors: 0, biasTensors: 0, foldedPads, fusedActivations: 0 };

  const rangeOf = (t: string): TensorRange => {
    const r = ranges.get(t);
    if (!r) throw new Error(`quantize: no calibration range for tensor ${t}`);
    return r;
  };
  const isActivation = (t: string): boolean => !!t && !inits.has(t);
  const computeNodes = topologicalOrder(graph).filter((n) => isComputeNode(n, inits) && !keepFloat.has(n.name ?? ''));

  // Which tensors get a Q→DQ pair, and with which parameters. `source` is the tensor the Q reads.
  const plan = new Map<string, { params: QParams; source: string }>();
  const removed = new Set<Node>();
  for (const n of computeNodes) {
    for (const x of n.input ?? []) if (isActivation(x) && !plan.has(x)) plan.set(x, { params: activationParams(rangeOf(x)), source: x });
    const y = n.output![0]!;
    const users = consumers.get(y) ?? [];
    if (users.length === 1 && users[0]!.opType === 'Softmax' && !graphOutputs.has(y)) continue; // logits stay float
    const act = users.length === 1 && !graphOutputs.has(y) ? fusableActivation(users[0]!, inits) : undefined;
    if (act) {
      const z = act.node.output![0]!;
      const params = activationParams(rangeOf(z));
      const lo = (0 - params.zeroPoint) * params.scale;
      const hi = (255 - params.zeroPoint) * params.scale;
      if (!graphOutputs.has(z) && lo >= act.min - 1e-6 && hi <= act.max + 1e-6) {
        // Q saturates exactly where the Clip/Relu would: the activation is folded into the quantized range.
        plan.set(z, { params, source: y });
        removed.add(act.node);
        result.fusedActivations++;
        continue;
      }
    }
    if (!plan.has(y)) plan.set(y, { params: activationParams(rangeOf(y)), source: y });
  }
  for (const n of topologicalOrder(graph)) {
    if (!PASSTHROUGH_OPS.has(n.opType ?? '')) continue;
    const x = n.input?.[0] ?? '';
    const entry = plan.get(x);
    const y = n.output![0]!;
    if (entry && (plan.has(y) || (consumers.get(y) ?? []).some((c) => computeNodes.includes(c)))) plan.set(y, { params: entry.params, source: y });
  }

  graph.node = (graph.node ?? []).filter((n) => !removed.has(n));
  const added: Node[] = [];
  const rename = new Map<string, string>();
  for (const [tensor, { params, source }] of plan) {
    const scale = names.next(`${tensor}_scale`);
    const zp = names.next(`${tensor}_zero_point`);
    graph.initializer!.push(makeTensor(scale, Float32Array.of(params.scale), []), makeTensor(zp, Uint8Array.of(params.zeroPoint), []));
    const q = names.next(`${tensor}_quantized`);
    const dq = names.next(`${tensor}_dequantized`);
    added.push({ opType: 'QuantizeLinear', name: names.next(`${tensor}_QuantizeLinear`), input: [source, scale, zp], output: [q] });
    added.push({ opType: 'DequantizeLinear', name: names.next(`${tensor}_DequantizeLinear`), input: [q, scale, zp], output: [dq] });
    rename.set(tensor, dq);
    result.activationTensors++;
  }
  const inputParams = new Map(computeNodes.map((n) => [n, plan.get(n.input?.[0] ?? '')?.params]));
  const inputTensor = new Map(computeNodes.map((n) => [n, n.input?.[0] ?? '']));
  for (const n of graph.node)
    n.input = (n.input ?? []).map((x) => rename.get(x) ?? x);

  for (const n of computeNodes) {
    if (n.opType !== 'Conv' && n.opType !== 'Gemm' && n.opType !== 'MatMul') continue;
    const input = inputParams.get(n);
    if (!input) continue;
    const weight = inits.get(n.input![1]!)!;
    const axis = n.opType === 'Conv' ? 0 : n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1 ? 0 : 1;
    if (n.opType === 'Gemm') foldGemmScalars(n, weight, inits, graph, names);
    const biasName = n.opType === 'MatMul' ? undefined : n.input?.[2];
    const bias = biasName ? inits.get(biasName) : undefined;
    const w = floatValues(n.opType === 'Gemm' ? inits.get(n.input![1]!)! : weight);
    const dims = (weight.dims ?? []).map(Number);
    const channels = dims[axis]!;
    const biasValues = bias && (bias.dims ?? []).map(Number).reduce((a, b) => a * b, 1) === channels ? floatValues(bias) : undefined;
    const stats = ranges.get(inputTensor.get(n)!);
    const qmax = opts.reduceRange ? 63 : 127;
    const covariance = opts.rounding !== 'nearest' && opts.perChannel ? stats?.covariance : undefined;
    const moments = covariance ? undefined : stats?.channelMeanSquare;
    const importance = moments ? importanceOfWeights(n.opType!, dims, attrInt(n, 'group', 1), attrInt(n, 'transB', 0) === 1, moments) : undefined;
    const wq = quantizeWeights(w, dims, axis, { perChannel: opts.perChannel, bias: biasValues, inputScale: input.scale, qmax, importance });
    if (covariance) wq.values = roundWithCovariance(w, dims, axis, wq.scales, covariance, qmax);
    const stem = n.name || n.output![0]!;
    const wName = names.next(`${stem}_weight_quantized`);
    const wScale = names.next(`${stem}_weight_scale`);
    const wZp = names.next(`${stem}_weight_zero_point`);
    const wDq = names.next(`${stem}_weight_dequantized`);
    const perChannel = wq.scales.length > 1;
    const unsigned = opts.weightType === 'uint8';
    graph.initializer!.push(
      makeTensor(wName, unsigned ? Uint8Array.from(wq.values, (v) => v + 128) : wq.values, dims),
      makeTensor(wScale, wq.scales, perChannel ? [channels] : []),
      makeTensor(wZp, unsigned ? new Uint8Array(wq.scales.length).fill(128) : new Int8Array(wq.scales.length), perChannel ? [channels] : []),
    );
    added.push({ opType: 'DequantizeLinear', name: names.next(`${stem}_weight_DequantizeLinear`), input: [wName, wScale, wZp], output: [wDq], attribute: perChannel ? [{ name: 'axis', type: 2, i: axis }] : [] });
    n.input![1] = wDq;
    result.weightTensors++;
    if (biasValues && wq.biasValues) {
      const bName = names.next(`${stem}_bias_quantized`);
      const bScale = names.next(`${stem}_bias_scale`);
      const bZp = names.next(`${stem}_bias_zero_point`);
      const bDq = names.next(`${stem}_bias_dequantized`);
      const scales = wq.scales.map((s) => s * input.scale);
      graph.initializer!.push(
        makeTensor(bName, wq.biasValues, [channels]),
        makeTensor(bScale, scales, perChannel ? [channels] : []),
        makeTensor(bZp, new Int32Array(scales.length), perChannel ? [channels] : []),
      );
      added.push({ opType: 'DequantizeLinear', name: names.next(`${stem}_bias_DequantizeLinear`), input: [bName, bScale, bZp], output: [bDq], attribute: perChannel ? [{ name: 'axis', type: 2, i: 0 }] : [] });
      n.input![2] = bDq;
      result.biasTensors++;
    }
  }
  graph.node.push(...added);
  dropUnusedInitializers(graph);
  graph.node = topologicalOrder(graph);
  return result;
}

function isComputeNode(n: Node, inits: Map<string, Tensor>): boolean {
  const op = n.opType ?? '';
  if (!COMPUTE_OPS.has(op)) return false;
  const [a, b] = n.input ?? [];
  if (op === 'Conv') return !!b && inits.has(b) && !inits.has(a!);
  if (op === 'Gemm') return !!b && inits.has(b) && !inits.has(a!) && attrInt(n, 'transA', 0) === 0 && (inits.get(b)!.dims ?? []).length === 2;
  if (op === 'MatMul') return !!b && inits.has(b) && !inits.has(a!) && (inits.get(b)!.dims ?? []).length === 2;
  if (op === 'Add') return !!a && !!b && !inits.has(a) && !inits.has(b);
  return true;
}

/** GPTQ rounding on the weights as an [outputs, inputs] matrix (transposed in and out for [K, N] layouts). */
function roundWithCovariance(w: Float32Array, dims: number[], axis: number, scales: Float32Array, covariance: Float64Array, qmax: number): Int8Array {
  const outputs = dims[axis]!;
  const inputs = w.length / outputs;
  if (axis === 0) return gptqRound(w, outputs, inputs, scales, covariance, qmax);
  const t = new Float32Array(w.length);
  for (let k = 0; k < inputs; k++) for (let o = 0; o < outputs; o++) t[o * inputs + k] = w[k * outputs + o]!;
  const q = gptqRound(t, outputs, inputs, scales, covariance, qmax);
  const back = new Int8Array(w.length);
  for (let k = 0; k < inputs; k++) for (let o = 0; o < outputs; o++) back[k * outputs + o] = q[o * inputs + k]!;
  return back;
}

/** Clip (constant bounds) or Relu directly after a compute op: its bounds, for folding into the output range. */
function fusableActivation(n: Node, inits: Map<string, Tensor>): { node: Node; min: number; max: number } | undefined {
  if (n.opType === 'Relu') return { node: n, min: 0, max: Infinity };
  if (n.opType !== 'Clip') return undefined;
  const bound = (i: number, attrName: string, fallback: number): number | undefined => {
    const name = n.input?.[i];
    if (name) {
      const t = inits.get(name);
      return t ? floatValues(t)[0] : undefined;
    }
    return attrFloat(n, attrName) ?? fallback;
  };
  const min = bound(1, 'min', -Infinity);
  const max = bound(2, 'max', Infinity);
  return min === undefined || max === undefined ? undefined : { node: n, min, max };
}

/** Gemm alpha/beta folded into B and C so the quantized Gemm is a plain A·B + C. */
function foldGemmScalars(n: Node, weight: Tensor, inits: Map<string, Tensor>, graph: Graph, names: NameAllocator): void {
  const alpha = attrFloat(n, 'alpha') ?? 1;
  const beta = attrFloat(n, 'beta') ?? 1;
  n.attribute = (n.attribute ?? []).filter((a) => a.name !== 'alpha' && a.name !== 'beta');
  if (alpha !== 1) {
    const name = names.next(`${weight.name}_alpha`);
    graph.initializer!.push(makeTensor(name, floatValues(weight).map((v) => v * alpha), (weight.dims ?? []).map(Number)));
    inits.set(name, graph.initializer!.at(-1)!);
    n.input![1] = name;
  }
  const c = n.input?.[2] ? inits.get(n.input[2]) : undefined;
  if (c && beta !== 1) {
    const name = names.next(`${c.name}_beta`);
    graph.initializer!.push(makeTensor(name, floatValues(c).map((v) => v * beta), (c.dims ?? []).map(Number)));
    inits.set(name, graph.initializer!.at(-1)!);
    n.input![2] = name;
  }
}

function ensureOpset(model: Model): void {
  const imports = model.opsetImport ?? [];
  const main = imports.find((o) => !o.domain || o.domain === 'ai.onnx');
  const version = Number(main?.version ?? 0);
  if (version < 11) throw new Error(`quantize: the model uses opset ${version}; opset 11 or newer is needed (Clip with inputs)`);
  if (version < MIN_OPSET) main!.version = MIN_OPSET; // per-channel DequantizeLinear (axis) needs opset 13
  if (Number(model.irVersion ?? 0) < 7) model.irVersion = 7;
}

function dropUnusedInitializers(graph: Graph): void {
  const used = new Set((graph.node ?? []).flatMap((n) => n.input ?? []));
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  graph.input = (graph.input ?? []).filter((i) => used.has(i.name ?? '') || !(graph.initializer ?? []).some((t) => t.name === i.name));
}
