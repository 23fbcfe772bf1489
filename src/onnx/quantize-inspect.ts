/** What ONNX Runtime makes of a model (which kernels it runs), and how closely two classifiers agree. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel } from './builder.js';
import { openSession, type SessionOptions } from './session.js';
import { countOps, graphOf } from './quantize-graph.js';

/**
 * Op counts of the graph ORT actually runs: the session saves its optimised model (level 'all', which includes
 * the QDQ → QLinearConv/QGemm/... fusions and layout transforms) and we count that file's nodes.
 */
export async function inspectOptimizedOps(modelBytes: Uint8Array, level: 'extended' | 'all' = 'all'): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-ort-'));
  const file = path.join(dir, 'optimized.onnx');
  try {
    const session = await openSession(modelBytes, { graphOptimizationLevel: level, optimizedModelFilePath: file });
    await session.release();
    return countOps(graphOf(decodeModel(fs.readFileSync(file))));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Integer kernels in an op count (QLinear*, *Integer*, QGemm, ...) vs float convolutions/matmuls left. */
export function summarizeKernels(ops: Record<string, number>): { integer: number; floatConv: number; floatMatMul: number } {
  let integer = 0;
  let floatConv = 0;
  let floatMatMul = 0;
  for (const [op, n] of Object.entries(ops)) {
    const base = op.split('.').at(-1)!;
    if (/^(QLinear|NhwcQLinear|QGemm|DynamicQuantize)|Integer/.test(base)) integer += n;
    else if (/^(Nhwc)?(Fused)?Conv$/.test(base)) floatConv += n;
    else if (/^(Fused)?(Gemm|MatMul)$/.test(base)) floatMatMul += n;
  }
  return { integer, floatConv, floatMatMul };
}

export interface Agreement {
  samples: number;
  labelAgreement: number;
  maxProbDiff: number;
  meanProbDiff: number;
}

/** Runs both classifiers on the same inputs (one image each, NHWC) and compares arg-max labels and probabilities. */
export async function compareClassifiers(floatModel: Uint8Array, int8Model: Uint8Array, inputs: Float32Array[]): Promise<Agreement> {
  const [a, b] = await Promise.all([classify(floatModel, inputs), classify(int8Model, inputs)]);
  let agree = 0;
  let maxDiff = 0;
  let sumDiff = 0;
  let count = 0;
  for (let i = 0; i < inputs.length; i++) {
    const pa = a[i]!;
    const pb = b[i]!;
    if (argmax(pa) === argmax(pb)) agree++;
    for (let k = 0; k < pa.length; k++) {
      const d = Math.abs(pa[k]! - pb[k]!);
      maxDiff = Math.max(maxDiff, d);
      sumDiff += d;
      count++;
    }
  }
  return { samples: inputs.length, labelAgreement: inputs.length ? agree / inputs.length : NaN, maxProbDiff: maxDiff, meanProbDiff: count ? sumDiff / count : NaN };
}

/** Class probabilities for each input, one session run per input (batch 1, as the daemon runs). */
export async function classify(modelBytes: Uint8Array, inputs: Float32Array[], options: SessionOptions = {}): Promise<Float32Array[]> {
  const session = await openSession(modelBytes, options);
  try {
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames[0]!;
    const dims = inputDims(modelBytes);
    const out: Float32Array[] = [];
    for (const x of inputs) {
      const result = await session.run({ [inputName]: new ort.Tensor('float32', x, [1, ...dims]) });
      out.push(Float32Array.from(result[outputName]!.data as Float32Array));
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Per-sample input dims (without the batch) of a model's first graph input. */
export function inputDims(modelBytes: Uint8Array): number[] {
  const graph = graphOf(decodeModel(modelBytes));
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  const input = (graph.input ?? []).find((i) => !inits.has(i.name));
  return (input?.type?.tensorType?.shape?.dim ?? []).slice(1).map((d) => Number(d.dimValue ?? 0));
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}
