import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Ort from 'onnxruntime-node';

/** The repository root: bundled models live under <root>/models. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export class VisionModelError extends Error {}

export interface SessionOptions {
  /** ORT intra-op threads; 0 lets ORT choose. */
  intraOpNumThreads?: number;
  /** Let idle intra-op threads spin (ORT default). Off saves CPU on a busy device at some latency cost. */
  allowSpinning?: boolean;
}

let ortModule: typeof Ort | undefined;
/** onnxruntime-node, imported on first use so `--help` stays fast. */
export async function loadOrt(): Promise<typeof Ort> {
  ortModule ??= await import('onnxruntime-node');
  return ortModule;
}

/** Opens an ONNX file with ORT; a missing or invalid file is one VisionModelError naming it. */
export async function openSession(file: string, opts: SessionOptions = {}): Promise<Ort.InferenceSession> {
  if (!fs.existsSync(file)) throw new VisionModelError(`model ${file}: no such file`);
  const ort = await loadOrt();
  try {
    return await ort.InferenceSession.create(file, {
      intraOpNumThreads: opts.intraOpNumThreads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      ...(opts.allowSpinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    });
  } catch (err) {
    throw new VisionModelError(`model ${file}: ONNX Runtime cannot load it (${(err as Error).message.split('\n')[0]})`);
  }
}

/** The declared dims of a session input or output (-1 for a symbolic dimension); undefined if unknown. */
export function valueDims(session: Ort.InferenceSession, name: string): number[] | undefined {
  const entry = [...session.inputMetadata, ...session.outputMetadata].find((m) => m.name === name);
  if (!entry || !entry.isTensor) return undefined;
  return entry.shape.map((d) => (typeof d === 'number' ? d : -1));
}
