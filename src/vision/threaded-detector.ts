/**
 * The configured face detector in a worker thread of its own. ONNX Runtime's Node binding runs a model on the
 * calling thread, so on the main thread the detector and the classifier take turns; here the detector of one frame
 * runs while the main thread classifies the frame before (the pipeline keeps one frame in each stage). The frame's
 * pixels are copied into a buffer that goes to the thread and comes back with the faces. A thread that dies fails the
 * frame in flight and is started again at the next frame; if that start fails, frames fail with its error for
 * RESTART_PAUSE_MS before the next try (no thread started per frame).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ModelError } from '../core/errors.js';
import { createLogger, logLevel, writeForeignLine, type LogLevel } from '../core/log.js';
import type { FaceDetector } from '../core/seams.js';
import type { Face, Frame } from '../core/types.js';
import { ortBackend, type OrtBackend } from '../onnx/session.js';
import { startFaceDetector, type DetectorRuntime, type ResolvedDetectorSettings } from './start-face-detector.js';

const log = createLogger('detector');
const RESTART_PAUSE_MS = 5000;

export type ThreadRequest =
  | { type: 'start'; settings: ResolvedDetectorSettings; runtime: DetectorRuntime; logLevel: LogLevel; ortBackend: OrtBackend }
  | { type: 'detect'; id: number; frame: { width: number; height: number; seq: number; capturedAt: number; rgb: ArrayBuffer } }
  | { type: 'close' };

export type ThreadReply =
  | { type: 'started'; inputSize: number }
  | { type: 'faces'; id: number; faces: Face[]; rgb: ArrayBuffer }
  | { type: 'error'; id?: number; message: string; model: boolean }
  | { type: 'log'; line: string; level: LogLevel };

interface Waiting {
  resolve(faces: Face[]): void;
  reject(err: Error): void;
}

/**
 * The worker for the compiled .js in dist/; from the .ts sources, a bootstrap that registers tsx in the thread first
 * (tsx's own --import hook registers in the main thread only on Node 20).
 */
function startThread(): Worker {
  // It holds face lists only (pixels and tensors live outside the JS heap): a small young generation keeps its RSS down.
  const options = { resourceLimits: { maxYoungGenerationSizeMb: 4 } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./detector-thread.js', import.meta.url), options);
  const entry = new URL('./detector-thread.ts', import.meta.url).href;
  const code = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), options);
}

export class ThreadedFaceDetector implements FaceDetector {
  readonly ownThread = true;
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private size = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private spare: ArrayBuffer | null = null;
  private closing = false;
  private restartFailure: { error: Error; until: number } | null = null;

  constructor(
    private readonly settings: ResolvedDetectorSettings,
    private readonly runtime: DetectorRuntime = {},
  ) {}

  get inputSize(): number {
    return this.size;
  }

  /** Starts the thread and its detector; a model that cannot be used rejects with its ModelError line. */
  async start(): Promise<void> {
    await this.spawn();
  }

  async detect(frame: Frame): Promise<Face[]> {
    if (this.closing) throw new Error('detector thread: closed');
    if (!this.worker) await this.restart();
    const worker = this.worker!;
    const bytes = frame.rgb.byteLength;
    const buffer = this.spare && this.spare.byteLength === bytes ? this.spare : new ArrayBuffer(bytes);
    this.spare = null;
    new Uint8Array(buffer).set(frame.rgb);
    const id = this.nextId++;
    return new Promise<Face[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const request: ThreadRequest = { type: 'detect', id, frame: { width: frame.width, height: frame.height, seq: frame.seq, capturedAt: frame.capturedAt, rgb: buffer } };
      worker.postMessage(request, [buffer]);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'close' } satisfies ThreadRequest);
      // A thread stuck in a model run is not waited for forever.
      setTimeout(() => void worker.terminate(), 5000).unref();
    });
  }

  private async restart(): Promise<void> {
    if (this.restartFailure && performance.now() < this.restartFailure.until) throw this.restartFailure.error;
    try {
      await this.spawn();
      this.restartFailure = null;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      log.warn(`detector thread: cannot start again (${error.message}); next try in ${RESTART_PAUSE_MS / 1000} s`);
      this.restartFailure = { error, until: performance.now() + RESTART_PAUSE_MS };
      throw error;
    }
  }

  private spawn(): Promise<void> {
    this.starting ??= ortBackend().then((backend) => this.startWorker(backend));
    return this.starting;
  }

  /** A new thread with the detector on the backend this thread chose (one choice, one log line per process). */
  private startWorker(backend: OrtBackend): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = startThread();
      let started = false;
      worker.on('message', (reply: ThreadReply) => {
        if (reply.type === 'log') writeForeignLine(reply.line, reply.level);
        else if (reply.type === 'started') {
          started = true;
          this.size = reply.inputSize;
          this.worker = worker;
          resolve();
        } else if (reply.type === 'faces') {
          this.spare = reply.rgb;
          this.settle(reply.id, (w) => w.resolve(reply.faces));
        } else if (reply.type === 'error') {
          const err = reply.model ? new ModelError(reply.message) : new Error(reply.message);
          if (!started) {
            reject(err);
            void worker.terminate();
          } else if (reply.id !== undefined) this.settle(reply.id, (w) => w.reject(err));
        }
      });
      worker.on('error', (err) => {
        if (!started) reject(err);
        else log.warn(`detector thread failed: ${err.message}`);
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = null;
        this.starting = null;
        if (!started) reject(new Error(`detector thread exited (code ${code}) before its detector started`));
        const lost = new Error(`detector thread exited (code ${code})`);
        for (const [id, w] of this.waiting) this.settle(id, () => w.reject(lost));
      });
      worker.postMessage({ type: 'start', settings: this.settings, runtime: this.runtime, logLevel: logLevel(), ortBackend: backend } satisfies ThreadRequest);
    });
  }

  private settle(id: number, how: (w: Waiting) => void): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    how(w);
  }
}

/** Whether the daemon's detector gets a thread of its own (detector.thread; see the schema for why auto decides so). */
export function detectorGetsThread(thread: ResolvedDetectorSettings['thread'], cores: number, backend: OrtBackend): boolean {
  if (thread !== 'auto') return thread === 'on';
  return cores >= 2 && backend === 'native';
}

/** The daemon's detector, started, where detector.thread says; a model that cannot be used is one ModelError line. */
export async function createDaemonDetector(settings: ResolvedDetectorSettings, runtime: DetectorRuntime = {}, cores = availableParallelism()): Promise<FaceDetector> {
  const backend = await ortBackend();
  if (!detectorGetsThread(settings.thread, cores, backend)) {
    log.debug(`detector on the main thread (detector.thread ${settings.thread}, ${cores} core(s), ONNX Runtime ${backend})`);
    return startFaceDetector(settings, runtime);
  }
  const detector = new ThreadedFaceDetector(settings, runtime);
  await detector.start();
  return detector;
}
