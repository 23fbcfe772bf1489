/**
 * The one way to open an ONNX Runtime session: every model the project runs (detectors, classifier, feature base,
 * export checks, calibration, benchmarks) comes through here, so options and errors are the same everywhere.
 */
import fs from 'node:fs';
import type * as Ort from 'onnxruntime-node';
import { ModelError } from '../core/errors.js';

export interface SessionOptions {
  /** ORT intra-op threads; 0 lets ORT choose. */
  intraOpNumThreads?: number;
  /** Let idle intra-op threads spin (ORT default). Off saves CPU on a busy device at some latency cost. */
  allowSpinning?: boolean;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Writes the optimised graph here (to inspect which kernels run). */
  optimizedModelFilePath?: string;
  executionMode?: 'sequential' | 'parallel';
}

let ortModule: typeof Ort | undefined;
/** onnxruntime-node, imported on first use so `--help` stays fast. */
export async function loadOrt(): Promise<typeof Ort> {
  ortModule ??= await import('onnxruntime-node');
  return ortModule;
}

/** Opens an ONNX file or in-memory model; a missing or invalid one is one ModelError naming it. */
export async function openSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<Ort.InferenceSession> {
  const what = typeof model === 'string' ? model : `(in-memory, ${model.byteLength} bytes)`;
  if (typeof model === 'string' && !fs.existsSync(model)) throw new ModelError(`model ${model}: no such file`);
  const ort = await loadOrt();
  const options: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.intraOpNumThreads ?? 0,
    interOpNumThreads: 1,
    executionMode: opts.executionMode ?? 'sequential',
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    logSeverityLevel: 3,
    ...(opts.optimizedModelFilePath ? { optimizedModelFilePath: opts.optimizedModelFilePath } : {}),
    ...(opts.allowSpinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (err) {
    throw new ModelError(`model ${what}: ONNX Runtime cannot load it (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Runs a one-input model on an NHWC/NCHW float batch; returns its first output's data and dims. */
export async function runFloat(session: Ort.InferenceSession, input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const ort = await loadOrt();
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
  const t = out[session.outputNames[0]!]!;
  return { data: t.data as Float32Array, dims: t.dims };
}

/** Releases a session, ignoring one that is already gone. */
export async function closeSession(session: Ort.InferenceSession | undefined | null): Promise<void> {
  try {
    await session?.release();
  } catch {
    /* already released */
  }
}
