import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../core/files.js';
import { createLogger } from '../../core/log.js';
import { closeSession, openSession, runFloat } from '../../onnx/session.js';
import { faceInputBatches, type FaceJob } from '../data/face-inputs.js';
import { createProgressBar } from '../progress.js';
import { AUGMENT_VERSION } from './augment.js';

/**
 * Base features (the pooled 1280-d MobileNetV2 output) of plain and augmented crops, computed with ONNX Runtime
 * on base.onnx and cached on disk: cacheDir/<base sha256>-<size>-m<margin>-<augment version>/shard-*.bin,
 * keyed by crop id + file size/mtime + augmentation id + face box, so a rerun only computes what is new.
 */
const log = createLogger('features');

export type FeatureJob = FaceJob;

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

/** Features of every job, in job order. Missing ones are computed (in file order, one decode per picture per batch). */
export async function extractFeatures(jobs: FeatureJob[], opts: FeatureOptions): Promise<Float32Array[]> {
  const ns = `${opts.baseSha256.slice(0, 16)}-${opts.inputSize}-m${opts.margin}-${AUGMENT_VERSION}`;
  const cache = new FeatureCache(opts.cacheDir ? path.join(opts.cacheDir, ns) : null);
  cache.load();
  const stamps = new Map<string, string>();
  const keyOf = (job: FeatureJob) => {
    let stamp = stamps.get(job.sample.file);
    if (!stamp) stamps.set(job.sample.file, (stamp = stampOf(job.sample.file)));
    const b = job.sample.box;
    return `${job.sample.id}|${stamp}|${job.aug}|${b ? `${b.x},${b.y},${b.w},${b.h}` : 'whole'}`;
  };
  const keys = jobs.map(keyOf);
  const missing = jobs.map((j, i) => ({ job: j, key: keys[i] })).filter((m) => !cache.get(m.key));
  const todo = [...new Map(missing.map((m) => [m.key, m])).values()].sort((a, b) => a.job.sample.file.localeCompare(b.job.sample.file) || a.job.aug - b.job.aug);
  if (todo.length) {
    log.info(`features: ${jobs.length - missing.length} of ${jobs.length} from the cache, computing ${todo.length}`);
    const session = await openSession(opts.baseOnnx, { intraOpNumThreads: 2 });
    const bar = opts.progress === false ? null : createProgressBar('features', '{bar} {value}/{total} crops | {speed} crops/s | ETA {eta_formatted}');
    bar?.start(todo.length, 0, { speed: '-' });
    const t0 = Date.now();
    const size = opts.inputSize;
    let done = 0;
    try {
      for await (const batch of faceInputBatches(todo.map((t) => t.job), { inputSize: size, margin: opts.margin, batchSize: opts.batchSize ?? 16 })) {
        const n = batch.indices.length;
        const out = await runFloat(session, batch.inputs, [n, size, size, 3]);
        const dim = out.data.length / n;
        batch.indices.forEach((i, row) => cache.put(todo[i]!.key, out.data.slice(row * dim, (row + 1) * dim)));
        done += n;
        bar?.update(done, { speed: (done / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(0) });
      }
    } finally {
      bar?.stop();
      cache.flush();
      await closeSession(session);
    }
    log.info(`features: computed ${todo.length} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return keys.map((k) => cache.get(k)!);
}
