/**
 * Post-training int8 quantization of a float ONNX classifier, in TypeScript over the ONNX protobuf:
 * calibrate activation ranges with ONNX Runtime, then rewrite to QDQ form (see quantize-qdq.ts).
 */
import { decodeModel, encodeModel } from './builder.js';
import { calibrate } from './quantize-calibrate.js';
import { attrInt, attrInts, consumersOf, countOps, graphOf, topologicalOrder, type Graph } from './quantize-graph.js';
import { rewriteToQdq } from './quantize-qdq.js';

export { compareClassifiers, inspectOptimizedOps, summarizeKernels, classify, type Agreement } from './quantize-inspect.js';

export interface QuantizeOptions {
  method: 'minmax' | 'percentile';
  /** For method 'percentile': the share of each tensor's values kept inside the range, in percent. */
  percentile?: number;
  perChannel?: true;
  /** Node names kept in float. */
  keepFloat?: string[];
  /**
   * The first N weighted layers (Conv/Gemm/MatMul, in graph order) and the ops between them stay float: the
   * full-resolution layers next to the input are where 8-bit steps change labels most (see quantize-search.ts).
   */
  floatLayers?: number;
  /**
   * 'uint8' (default here): the symmetric int8 levels stored shifted by 128 (zero point 128), run by ORT's u8×u8
   * kernels: exact on every CPU, but slower than float on the x86 CPUs measured (docs/BENCHMARKS.md).
   * 'int8' (zero point 0): the u8×s8 kernels, the fast ones where the CPU has int8 dot products (x86 VNNI / AVX-VNNI /
   * AMX, Arm asimddp / i8mm), exact on every arm64 CPU; on x86 without VNNI their pairwise int16 sums saturate
   * (measured: 86 % instead of 95 % label agreement). The shipped classifier and SSD use 'int8' (quantize-step.ts,
   * quantize-detector.ts): the daemon's `precision: auto` runs them only where they are exact and measured faster
   * than float (src/vision/precision-choice.ts), so float is the fallback and a uint8 copy is not needed.
   */
  weightType?: 'int8' | 'uint8';
  reduceRange?: boolean;
  /** 'gptq' (default): error-compensating rounding of 1×1 Conv / Gemm / MatMul weights; 'nearest': plain rounding. */
  rounding?: 'nearest' | 'gptq';
}

export interface QuantizeReport {
  method: 'minmax' | 'percentile';
  percentile?: number;
  calibrationSamples: number;
  perChannel: boolean;
  weightType: 'int8' | 'uint8';
  reduceRange: boolean;
  rounding: 'nearest' | 'gptq';
  floatLayers: number;
  /** Nodes left float (by floatLayers or keepFloat). */
  keptFloat: string[];
  tensorsQuantized: { activations: number; weights: number; biases: number };
  foldedPads: number;
  fusedActivations: number;
  opsBefore: Record<string, number>;
  opsAfter: Record<string, number>;
  bytes: { float: number; int8: number };
}

export const DEFAULT_PERCENTILE = 99.99;
export const DEFAULT_WEIGHT_TYPE = 'uint8';

const WEIGHTED_OPS = ['Conv', 'Gemm', 'MatMul'];

/** Names of the nodes up to and including the n-th weighted layer, in topological order (none for n = 0). */
export function leadingLayers(graph: Graph, n: number): string[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`quantize: floatLayers must be a whole number ≥ 0, got ${n}`);
  if (n === 0) return [];
  const order = topologicalOrder(graph);
  const weighted = order.filter((node) => WEIGHTED_OPS.includes(node.opType ?? ''));
  if (n > weighted.length) throw new Error(`quantize: floatLayers ${n} is more than the model's ${weighted.length} weighted layers`);
  const last = order.indexOf(weighted[n - 1]!);
  return order.slice(0, last + 1).map((node) => node.name ?? '').filter(Boolean);
}

/**
 * Float-prefix lengths worth trying: none, the stem, then the end of each block – a weighted layer with a linear
 * output (no Relu/Clip after it, as MobileNetV2's projections) – up to a quarter of the weighted layers.
 */
export function floatLayerCandidates(graph: Graph): number[] {
  const order = topologicalOrder(graph);
  const consumers = consumersOf(graph);
  const weighted = order.filter((node) => WEIGHTED_OPS.includes(node.opType ?? ''));
  const limit = Math.floor(weighted.length / 4);
  const out = [0];
  weighted.forEach((node, i) => {
    const n = i + 1;
    if (n > limit) return;
    const users = consumers.get(node.output?.[0] ?? '') ?? [];
    const linear = !users.some((u) => u.opType === 'Relu' || u.opType === 'Clip');
    if (n === 1 || linear) out.push(n);
  });
  return out;
}

export async function quantizeOnnx(floatModel: Uint8Array, calibration: Float32Array[], opts: QuantizeOptions): Promise<{ model: Uint8Array; report: QuantizeReport }> {
  if (opts.method !== 'minmax' && opts.method !== 'percentile') throw new Error(`quantize: method must be minmax or percentile, got ${String(opts.method)}`);
  if (!calibration.length) throw new Error('quantize: no calibration inputs');
  const percentile = opts.method === 'percentile' ? opts.percentile ?? DEFAULT_PERCENTILE : undefined;
  const model = decodeModel(floatModel);
  const graph = graphOf(model);
  const weighted = (graph.node ?? []).filter((n) => ['Conv', 'Gemm', 'MatMul'].includes(n.opType ?? ''));
  const matrixLike = weighted.filter((n) => n.opType !== 'Conv' || (attrInt(n, 'group', 1) === 1 && (attrInts(n, 'kernel_shape') ?? []).every((k) => k === 1)));
  const ranges = await calibrate(floatModel, calibration, {
    method: opts.method,
    percentile,
    channelMoments: weighted.map((n) => n.input?.[0] ?? ''),
    covariances: opts.rounding === 'nearest' ? [] : matrixLike.map((n) => n.input?.[0] ?? ''),
  });
  const opsBefore = countOps(graph);
  const perChannel = opts.perChannel ?? true;
  const floatLayers = opts.floatLayers ?? 0;
  const keptFloat = [...new Set([...leadingLayers(graph, floatLayers), ...(opts.keepFloat ?? [])])];
  const result = rewriteToQdq(model, ranges, { perChannel, keepFloat: keptFloat, weightType: opts.weightType ?? DEFAULT_WEIGHT_TYPE, reduceRange: opts.reduceRange, rounding: opts.rounding });
  const bytes = encodeModel(model);
  return {
    model: bytes,
    report: {
      method: opts.method,
      ...(percentile !== undefined ? { percentile } : {}),
      calibrationSamples: calibration.length,
      perChannel,
      weightType: opts.weightType ?? DEFAULT_WEIGHT_TYPE,
      reduceRange: opts.reduceRange ?? false,
      rounding: opts.rounding ?? 'gptq',
      floatLayers,
      keptFloat,
      tensorsQuantized: { activations: result.activationTensors, weights: result.weightTensors, biases: result.biasTensors },
      foldedPads: result.foldedPads,
      fusedActivations: result.fusedActivations,
      opsBefore,
      opsAfter: countOps(graphOf(model)),
      bytes: { float: floatModel.byteLength, int8: bytes.byteLength },
    },
  };
}
