/**
 * Calibration: run the float model with every float intermediate tensor exposed as an output and record each
 * tensor's range – plain min/max, or the given percentile of its values (two passes: min/max, then histograms).
 */
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel } from './builder.js';
import { openSession } from './session.js';
import { ELEM, elementTypes, graphOf } from './quantize-graph.js';

export interface TensorRange {
  min: number;
  max: number;
  /** E[x²] per channel (axis 1), for tensors listed in CalibrationOptions.channelMoments. */
  channelMeanSquare?: Float64Array;
  /** E[x xᵀ] over channels (C×C, row-major), for tensors listed in CalibrationOptions.covariances. */
  covariance?: Float64Array;
}

export interface CalibrationOptions {
  method: 'minmax' | 'percentile';
  percentile?: number;
  /** Only these tensors are recorded (all float tensors when absent). */
  tensors?: string[];
  /** Tensors whose per-channel mean square is recorded too (inputs of Conv/Gemm/MatMul, for weight clipping). */
  channelMoments?: string[];
  /** Tensors whose channel covariance is recorded (inputs of 1×1 Conv/Gemm/MatMul, for error-compensating rounding). */
  covariances?: string[];
}

/** Spatial positions per sample that feed a covariance: plenty for a C×C estimate, and keeps calibration quick. */
const COVARIANCE_POSITIONS = 256;

const BINS = 2048;
const BATCH = 8;

export async function calibrate(floatModel: Uint8Array, calibration: Float32Array[], opts: CalibrationOptions): Promise<Map<string, TensorRange>> {
  if (!calibration.length) throw new Error('calibration: no calibration inputs');
  const model = decodeModel(floatModel);
  const graph = graphOf(model);
  const input = graph.input?.find((i) => !(graph.initializer ?? []).some((t) => t.name === i.name));
  if (!input?.name) throw new Error('calibration: the model has no graph input');
  const dims = input.type?.tensorType?.shape?.dim ?? [];
  const perSample = dims.slice(1).map((d) => Number(d.dimValue ?? 0));
  const sampleSize = perSample.reduce((a, b) => a * b, 1);
  for (const [i, c] of calibration.entries())
    if (c.length !== sampleSize) throw new Error(`calibration: input ${i} has ${c.length} values, the model takes ${sampleSize} (${perSample.join('×')})`);
  const batchFixed = dims[0]?.dimValue !== undefined && dims[0]?.dimValue !== null && Number(dims[0].dimValue) > 0;
  const batch = batchFixed ? Number(dims[0]!.dimValue) : BATCH;
  if (batchFixed && batch !== 1) throw new Error(`calibration: the model's batch size is fixed at ${batch}; only 1 or a symbolic batch is supported`);

  const types = elementTypes(graph);
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const wanted = opts.tensors ?? [...types.entries()].filter(([, t]) => t === ELEM.float).map(([n]) => n);
  const produced = new Set((graph.node ?? []).flatMap((n) => n.output ?? []));
  const names = wanted.filter((n) => produced.has(n) || n === input.name);
  for (const n of names)
    if (!existing.has(n) && n !== input.name) graph.output!.push({ name: n, type: { tensorType: { elemType: ELEM.float } } });
  const session = await openSession(encodeModel(model), { graphOptimizationLevel: 'disabled' });
  const fetches = names.filter((n) => n !== input.name);
  const batches: Float32Array[][] = [];
  for (let i = 0; i < calibration.length; i += batch) batches.push(calibration.slice(i, i + batch));

  const runBatch = async (items: Float32Array[], visit: (name: string, data: Float32Array, dims: readonly number[]) => void): Promise<void> => {
    const data = new Float32Array(items.length * sampleSize);
    items.forEach((c, i) => data.set(c, i * sampleSize));
    const feeds = { [input.name!]: new ort.Tensor('float32', data, [items.length, ...perSample]) };
    if (names.includes(input.name!)) visit(input.name!, data, [items.length, ...perSample]);
    const out = await session.run(feeds, fetches);
    for (const n of fetches) {
      visit(n, out[n]!.data as Float32Array, out[n]!.dims);
      out[n]!.dispose();
    }
  };

  const ranges = new Map<string, TensorRange>();
  const momentNames = new Set(opts.channelMoments ?? []);
  const squares = new Map<string, { sum: Float64Array; count: number }>();
  const covNames = new Set(opts.covariances ?? []);
  const covs = new Map<string, { sum: Float64Array; count: number }>();
  try {
    for (const items of batches)
      await runBatch(items, (name, data, dims) => {
        let { min, max } = ranges.get(name) ?? { min: Infinity, max: -Infinity };
        for (let i = 0; i < data.length; i++) {
          const v = data[i]!;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        ranges.set(name, { min, max });
        if (momentNames.has(name) && dims.length >= 2) {
          const channels = dims[1]!;
          const inner = dims.slice(2).reduce((a, b) => a * b, 1);
          const acc = squares.get(name) ?? { sum: new Float64Array(channels), count: 0 };
          for (let i = 0; i < data.length; i++) acc.sum[Math.floor(i / inner) % channels] += data[i]! * data[i]!;
          acc.count += data.length / channels;
          squares.set(name, acc);
        }
        if (covNames.has(name) && dims.length >= 2) accumulateCovariance(covs, name, data, dims);
      });
    for (const [name, acc] of covs) ranges.get(name)!.covariance = acc.sum.map((v) => v / acc.count);
    for (const [name, acc] of squares) ranges.get(name)!.channelMeanSquare = acc.sum.map((v) => v / acc.count);
    if (opts.method === 'percentile') {
      const p = opts.percentile ?? 99.99;
      if (!(p > 50 && p <= 100)) throw new Error(`calibration: percentile must be in (50, 100], got ${p}`);
      const hist = new Map<string, Float64Array>();
      for (const items of batches)
        await runBatch(items, (name, data) => {
          const { min, max } = ranges.get(name)!;
          const h = hist.get(name) ?? new Float64Array(BINS);
          hist.set(name, h);
          const width = (max - min) / BINS || 1;
          for (let i = 0; i < data.length; i++) h[Math.min(BINS - 1, Math.floor((data[i]! - min) / width))]!++;
        });
      for (const [name, h] of hist) ranges.set(name, { ...percentileRange(h, ranges.get(name)!, p), channelMeanSquare: ranges.get(name)!.channelMeanSquare, covariance: ranges.get(name)!.covariance });
    }
  } finally {
    await session.release();
  }
  return ranges;
}

function accumulateCovariance(covs: Map<string, { sum: Float64Array; count: number }>, name: string, data: Float32Array, dims: readonly number[]): void {
  const [batch, channels] = [dims[0]!, dims[1]!];
  const inner = dims.slice(2).reduce((a, b) => a * b, 1);
  const acc = covs.get(name) ?? { sum: new Float64Array(channels * channels), count: 0 };
  covs.set(name, acc);
  const step = Math.max(1, Math.floor(inner / COVARIANCE_POSITIONS));
  const x = new Float64Array(channels);
  for (let n = 0; n < batch; n++)
    for (let p = 0; p < inner; p += step) {
      for (let c = 0; c < channels; c++) x[c] = data[(n * channels + c) * inner + p]!;
      for (let i = 0; i < channels; i++) {
        const xi = x[i]!;
        if (xi === 0) continue; // ReLU outputs are mostly zeros
        const row = i * channels;
        for (let j = i; j < channels; j++) acc.sum[row + j] += xi * x[j]!;
      }
      acc.count++;
    }
  for (let i = 0; i < channels; i++) for (let j = 0; j < i; j++) acc.sum[i * channels + j] = acc.sum[j * channels + i]!;
}

/** Lower and upper cut so that (100−p)/2 % of the values fall outside on each side (never beyond min/max). */
function percentileRange(h: Float64Array, full: TensorRange, p: number): TensorRange {
  const total = h.reduce((a, b) => a + b, 0);
  const tail = (total * (100 - p)) / 200;
  const width = (full.max - full.min) / BINS;
  let lo = 0;
  for (let acc = 0; lo < BINS - 1 && acc + h[lo]! <= tail; lo++) acc += h[lo]!;
  let hi = BINS - 1;
  for (let acc = 0; hi > 0 && acc + h[hi]! <= tail; hi--) acc += h[hi]!;
  return { min: lo === 0 ? full.min : full.min + lo * width, max: hi === BINS - 1 ? full.max : full.min + (hi + 1) * width };
}
