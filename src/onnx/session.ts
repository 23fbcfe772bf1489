/**
 * The one way to open an ONNX Runtime session: every model the project runs (detectors, classifier, feature base,
 * export checks, calibration, benchmarks) comes through here, so options and errors are the same everywhere.
 *
 * Two backends behind one API (onnxruntime-common's): onnxruntime-node's native binding, and onnxruntime-web's
 * WebAssembly build run inside Node, for where no binding loads (onnxruntime-node ships none for armv7, i.e.
 * 32-bit Raspberry Pi OS). One backend per process, chosen on first use by MASKWATCH_ORT_BACKEND:
 * `auto` (default: native when its binding loads, else wasm), `native` or `wasm`.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Ort from 'onnxruntime-common';
import { ModelError } from '../core/errors.js';
import { createLogger, errorMessage } from '../core/log.js';

/** The ONNX Runtime module in use: both backends export onnxruntime-common's API. */
export type OrtModule = typeof Ort;
export type OrtBackend = 'native' | 'wasm';
export const ORT_BACKEND_ENV = 'MASKWATCH_ORT_BACKEND';

const log = createLogger('onnx');

export interface SessionOptions {
  /** ORT intra-op threads; 0 lets ORT choose. On wasm, the first session sets the one thread pool every session shares. */
  intraOpNumThreads?: number;
  /** Let idle intra-op threads spin (ORT default). Off saves CPU on a busy device at some latency cost. Native only. */
  allowSpinning?: boolean;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Writes the optimised graph here (to inspect which kernels run). Native only. */
  optimizedModelFilePath?: string;
  executionMode?: 'sequential' | 'parallel';
  /**
   * ORT's memory pattern (default on): it plans one block per input shape seen and keeps it. Off for a model run on
   * varying batch sizes (the classifier: one input per face), where each size would keep a plan of its own. Native only.
   */
  memPattern?: boolean;
  /** ORT's profiler writes its JSON to `<prefix>_<date>.json` when the session calls endProfiling(). Native only. */
  profileFilePrefix?: string;
}

interface LoadedOrt {
  ort: OrtModule;
  backend: OrtBackend;
}

let loading: Promise<LoadedOrt> | undefined;

/** The backend MASKWATCH_ORT_BACKEND asks for; anything but native, wasm, auto or unset is an error. */
export function requestedOrtBackend(env: NodeJS.ProcessEnv = process.env): OrtBackend | 'auto' {
  const raw = env[ORT_BACKEND_ENV];
  const value = (raw ?? '').trim().toLowerCase() || 'auto';
  if (value === 'native' || value === 'wasm' || value === 'auto') return value;
  throw new ModelError(`${ORT_BACKEND_ENV}: must be native, wasm or auto, got ${JSON.stringify(raw)}`);
}

/** ONNX Runtime, imported on first use so `--help` stays fast; the backend is chosen (and logged) once per process. */
export async function loadOrt(): Promise<OrtModule> {
  return (await loaded()).ort;
}

/** Which backend this process runs its sessions on. */
export async function ortBackend(): Promise<OrtBackend> {
  return (await loaded()).backend;
}

/**
 * Runs this thread's sessions on the backend another thread of the process chose (the detector's worker thread takes
 * the main thread's), without choosing or logging again. Call before the first session.
 */
export function adoptOrtBackend(backend: OrtBackend): Promise<void> {
  loading ??= (async (): Promise<LoadedOrt> => {
    try {
      const ort: OrtModule = backend === 'native' ? await import('onnxruntime-node') : await import('onnxruntime-web');
      if (backend === 'wasm') configureWasm(ort);
      return { ort, backend };
    } catch (err) {
      throw new ModelError(`ONNX Runtime: the ${backend} backend the main thread runs cannot load in this thread (${firstLine(err)})`);
    }
  })();
  return loading.then(() => undefined);
}

function loaded(): Promise<LoadedOrt> {
  loading ??= chooseBackend();
  return loading;
}

const platform = `${process.platform}-${process.arch}`;
const firstLine = (err: unknown) => errorMessage(err).split('\n')[0]!;

async function chooseBackend(): Promise<LoadedOrt> {
  const wanted = requestedOrtBackend();
  let nativeFailure: string | undefined;
  if (wanted !== 'wasm') {
    try {
      const ort: OrtModule = await import('onnxruntime-node');
      // debug, not info: `classify` and `predict` keep stderr for errors, one line each.
      log.debug(`ONNX Runtime ${ort.env.versions.common}: native backend (onnxruntime-node, ${platform})`);
      return { ort, backend: 'native' };
    } catch (err) {
      nativeFailure = firstLine(err);
      if (wanted === 'native') throw new ModelError(`ONNX Runtime: onnxruntime-node's native binding cannot load on ${platform} (${nativeFailure}), and ${ORT_BACKEND_ENV}=native forbids the WebAssembly fallback`);
    }
  }
  let ort: OrtModule;
  try {
    ort = await import('onnxruntime-web');
  } catch (err) {
    const native = nativeFailure ? `onnxruntime-node's native binding cannot load on ${platform} (${nativeFailure}) and ` : '';
    throw new ModelError(`ONNX Runtime: ${native}onnxruntime-web cannot load (${firstLine(err)})`);
  }
  configureWasm(ort);
  if (nativeFailure) log.warn(`ONNX Runtime: onnxruntime-node's native binding cannot load on ${platform} (${nativeFailure}); using onnxruntime-web's WebAssembly backend (slower: see docs/INSTALL.md)`);
  else log.info(`ONNX Runtime ${ort.env.versions.common}: WebAssembly backend (onnxruntime-web, ${ORT_BACKEND_ENV}=wasm)`);
  return { ort, backend: 'wasm' };
}

/** Its .wasm files from node_modules (never a CDN), SIMD required, on the main thread (no proxy worker). */
function configureWasm(ort: OrtModule): void {
  const dist = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  ort.env.wasm.wasmPaths = pathToFileURL(dist + path.sep).href;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
}

/** Opens an ONNX file or in-memory model; a missing or invalid one is one ModelError naming it. */
export async function openSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<Ort.InferenceSession> {
  const what = typeof model === 'string' ? model : `(in-memory, ${model.byteLength} bytes)`;
  if (typeof model === 'string' && !fs.existsSync(model)) throw new ModelError(`model ${model}: no such file`);
  const { ort, backend } = await loaded();
  try {
    if (backend === 'wasm') return await ort.InferenceSession.create(typeof model === 'string' ? fs.readFileSync(model) : model, wasmOptions(ort, opts));
    const options = nativeOptions(opts);
    return typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (err) {
    throw new ModelError(`model ${what}: ONNX Runtime (${backend}) cannot load it (${firstLine(err)})`);
  }
}

const common = (opts: SessionOptions) => ({
  executionMode: opts.executionMode ?? 'sequential',
  graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
  logSeverityLevel: 3 as const,
});

function nativeOptions(opts: SessionOptions): Ort.InferenceSession.SessionOptions {
  return {
    ...common(opts),
    intraOpNumThreads: opts.intraOpNumThreads ?? 0,
    interOpNumThreads: 1,
    ...(opts.memPattern === false ? { enableMemPattern: false } : {}),
    ...(opts.optimizedModelFilePath ? { optimizedModelFilePath: opts.optimizedModelFilePath } : {}),
    ...(opts.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
    ...(opts.allowSpinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
}

const noted = new Set<string>();
/** One line per kind of thing the wasm backend cannot do, however many sessions ask for it. */
function noteOnce(key: string, line: () => string, level: 'info' | 'warn' = 'info'): void {
  if (noted.has(key)) return;
  noted.add(key);
  log[level](line());
}

let wasmPoolSet = false;

/**
 * The wasm backend has one thread pool (env.wasm.numThreads), made when its first session opens: that session's
 * intraOpNumThreads sets it (0: onnxruntime-web's default, half the cores up to 4). Threads in Node are
 * worker_threads sharing the wasm memory. Per-session thread counts, spinning and saving the optimised graph
 * do not exist there; asking for them logs once and the session opens without them.
 */
function wasmOptions(ort: OrtModule, opts: SessionOptions): Ort.InferenceSession.SessionOptions {
  const asked = opts.intraOpNumThreads ?? 0;
  if (!wasmPoolSet) {
    wasmPoolSet = true;
    if (asked > 0) ort.env.wasm.numThreads = asked;
  } else if (asked > 0 && ort.env.wasm.numThreads !== undefined && asked !== ort.env.wasm.numThreads) {
    noteOnce('threads', () => `WebAssembly backend: every session shares one pool of ${ort.env.wasm.numThreads} thread(s); a session asked for ${asked}`);
  }
  if (opts.allowSpinning === false) noteOnce('spinning', () => 'WebAssembly backend: allowSpinning has no effect there (its one thread pool is made at start); ignored');
  if (opts.optimizedModelFilePath) noteOnce('optimized', () => `WebAssembly backend: cannot save the optimised graph (optimizedModelFilePath ${opts.optimizedModelFilePath}); the session opens without writing it`, 'warn');
  return { ...common(opts), executionProviders: ['wasm'] };
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
