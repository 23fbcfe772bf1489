import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../core/files.js';
import { createLogger } from '../../core/log.js';
import { AUGMENT_VERSION, sampleCrop } from './augment.js';
import { decodeRgb, normaliseInto, type RgbImage } from './crop.js';
import type { FaceSample } from '../data/photos.js';
import { createProgressBar } from '../progress.js';

/**
 * Base features (the pooled 1280-d MobileNetV2 output) of plain and augmented crops, computed with ONNX Runtime
 * on base.onnx and cached on disk: cacheDir/<base sha256>-<size>-m<margin>-<augment version>/shard-*.bin,
 * keyed by crop id + file size/mtime + augmentation id, so a rerun only computes what is new.
 */
const log = createLogger('features');

export interface FeatureJob {
  sample: FaceSample;
  /** 0: plain crop; k ≥ 1: augmentation k. */
  aug: number;
}

export interface FeatureOptions {
  baseOnnx: string;
  baseSha256: string;
  inputSize: number;
  margin: number;
  /** null: no cache. */
  cacheDir: string | null;
  batchSize?: number;
  progress?: boolean;
}

const SHARD_FLUSH = 512;

/** One shard: [u32 header length][header JSON {dim, keys}][padding to 4 bytes][float32 rows]. */
function readShard(file: string): { dim: number; keys: string[]; data: Float32Array } {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt32LE(0);
  const header = JSON.parse(buf.subarray(4, 4 + headerLen).toString('utf8')) as { dim: number; keys: string[] };
  const start = Math.ceil((4 + headerLen) / 4) * 4;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
  if (data.length !== header.dim * header.keys.length) throw new Error('truncated');
  return { ...header, data };
}

function writeShard(file: string, dim: number, keys: string[], rows: Float32Array): void {
  const header = Buffer.from(JSON.stringify({ dim, keys }), 'utf8');
  const start = Math.ceil((4 + header.length) / 4) * 4;
  const out = Buffer.alloc(start + rows.byteLength);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength).copy(out, start);
  writeFileAtomic(file, out);
}

export class FeatureCache {
  private readonly rows = new Map<string, Float32Array>();
  private pendingKeys: string[] = [];
  private pendingRows: Float32Array[] = [];
  private dim = 0;

  constructor(private readonly dir: string | null) {}

  load(): void {
    if (!this.dir || !fs.existsSync(this.dir)) return;
    for (const name of fs.readdirSync(this.dir).filter((f) => f.startsWith('shard-') && f.endsWith('.bin'))) {
      try {
        const shard = readShard(path.join(this.dir, name));
        this.dim = shard.dim;
        shard.keys.forEach((k, i) => this.rows.set(k, shard.data.subarray(i * shard.dim, (i + 1) * shard.dim)));
      } catch (err) {
        log.warn(`feature cache ${path.join(this.dir, name)}: unreadable (${(err as Error).message}); ignored`);
      }
    }
  }

  get(key: string): Float32Array | undefined {
    return this.rows.get(key);
  }

  put(key: string, row: Float32Array): void {
    this.dim = row.length;
    this.rows.set(key, row);
    if (!this.dir) return;
    this.pendingKeys.push(key);
    this.pendingRows.push(row);
    if (this.pendingKeys.length >= SHARD_FLUSH) this.flush();
  }

  flush(): void {
    if (!this.dir || !this.pendingKeys.length) return;
    const data = new Float32Array(this.pendingKeys.length * this.dim);
    this.pendingRows.forEach((r, i) => data.set(r, i * this.dim));
    writeShard(path.join(this.dir, `shard-${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.bin`), this.dim, this.pendingKeys, data);
    this.pendingKeys = [];
    this.pendingRows = [];
  }
}

function stampOf(file: string): string {
  const st = fs.statSync(file);
  return `${st.size}:${Math.round(st.mtimeMs)}`;
}

/** Runs base.onnx on batches of crops; one session for many calls. */
export class BaseFeatureRunner {
  private session: import('onnxruntime-node').InferenceSession | null = null;
  private ort: typeof import('onnxruntime-node') | null = null;

  constructor(private readonly baseOnnx: string, private readonly inputSize: number) {}

  async start(): Promise<void> {
    this.ort = await import('onnxruntime-node');
    this.session = await this.ort.InferenceSession.create(this.baseOnnx, { intraOpNumThreads: 2 });
  }

  /** NHWC normalised batch → rows of features. */
  async run(batch: Float32Array, n: number): Promise<Float32Array[]> {
    const s = this.inputSize;
    const input = new this.ort!.Tensor('float32', batch.subarray(0, n * s * s * 3), [n, s, s, 3]);
    const out = await this.session!.run({ [this.session!.inputNames[0]]: input });
    const t = out[this.session!.outputNames[0]];
    const dim = t.dims.slice(1).reduce((a, b) => a * b, 1);
    const data = t.data as Float32Array;
    return Array.from({ length: n }, (_, i) => data.slice(i * dim, (i + 1) * dim));
  }

  async stop(): Promise<void> {
    try {
      await this.session?.release();
    } catch {
      /* already released */
    }
    this.session = null;
  }
}

/** Features of every job, in job order. Missing ones are computed (in file order, one decode per picture per batch). */
export async function extractFeatures(jobs: FeatureJob[], opts: FeatureOptions): Promise<Float32Array[]> {
  const ns = `${opts.baseSha256.slice(0, 16)}-${opts.inputSize}-m${opts.margin}-${AUGMENT_VERSION}`;
  const cache = new FeatureCache(opts.cacheDir ? path.join(opts.cacheDir, ns) : null);
  cache.load();
  const stamps = new Map<string, string>();
  const keyOf = (job: FeatureJob) => {
    let stamp = stamps.get(job.sample.file);
    if (!stamp) stamps.set(job.sample.file, (stamp = stampOf(job.sample.file)));
    return `${job.sample.id}|${stamp}|${job.aug}`;
  };
  const keys = jobs.map(keyOf);
  const missing = jobs.map((j, i) => ({ job: j, key: keys[i] })).filter((m) => !cache.get(m.key));
  const todo = [...new Map(missing.map((m) => [m.key, m])).values()].sort((a, b) => a.job.sample.file.localeCompare(b.job.sample.file) || a.job.aug - b.job.aug);
  if (todo.length) {
    log.info(`features: ${jobs.length - missing.length} of ${jobs.length} from the cache, computing ${todo.length}`);
    const size = opts.inputSize;
    const batchSize = opts.batchSize ?? 16;
    const runner = new BaseFeatureRunner(opts.baseOnnx, size);
    await runner.start();
    const bar = opts.progress === false ? null : createProgressBar('features', '{bar} {value}/{total} crops | {speed} crops/s | ETA {eta_formatted}');
    bar?.start(todo.length, 0, { speed: '-' });
    const t0 = Date.now();
    const batch = new Float32Array(batchSize * size * size * 3);
    let decoded = new Map<string, Promise<RgbImage>>();
    try {
      for (let b = 0; b < todo.length; b += batchSize) {
        const chunk = todo.slice(b, b + batchSize);
        const current = new Map<string, Promise<RgbImage>>();
        for (const { job } of chunk) {
          const f = job.sample.file;
          if (!current.has(f)) current.set(f, decoded.get(f) ?? decodeRgb(f));
        }
        decoded = current;
        await Promise.all(
          chunk.map(async ({ job }, i) => {
            let rgb: Buffer;
            try {
              rgb = await sampleCrop(job.sample, await current.get(job.sample.file)!, opts.margin, size, job.aug);
            } catch (err) {
              throw new Error(`picture ${job.sample.file}: cannot crop ${job.sample.id} (${(err as Error).message})`);
            }
            normaliseInto(rgb, batch, i * size * size * 3);
          }),
        );
        const rows = await runner.run(batch, chunk.length);
        chunk.forEach((c, i) => cache.put(c.key, rows[i]));
        const done = b + chunk.length;
        bar?.update(done, { speed: (done / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(0) });
      }
    } finally {
      bar?.stop();
      cache.flush();
      await runner.stop();
    }
    log.info(`features: computed ${todo.length} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return keys.map((k) => cache.get(k)!);
}
