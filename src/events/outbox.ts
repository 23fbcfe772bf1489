/**
 * The durable event outbox: one file per event in `<stateDir>/outbox/`, named by its zero-padded seq.
 *
 * Why one file per event rather than an append-only log: an event leaves the outbox when the broker
 * acknowledges it, in any order relative to new events being added; with files that is one unlink, and
 * a power cut can only leave a stray temp file (ignored and removed at start). A log would need
 * acknowledgement records and compaction to get the same guarantees. Events are rare (one per
 * person), so the cost of a few fsyncs per event does not matter.
 *
 * `<stateDir>/events-state.json` holds the next seq, the count of events dropped from a full outbox and
 * the per-label counts; it is written (fsync + rename) before a seq number is used.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/files.js';
import { createLogger, errorMessage } from '../core/log.js';
import { LABELS, type Label } from '../core/types.js';
import type { CountsPayload } from './topics.js';

const log = createLogger('outbox');
const ENTRY = /^(\d{12})\.json$/;
const TEMP = /^\..*\.tmp$/;

export interface OutboxOptions {
  /** The daemon's state dir; the outbox lives in its `outbox/` folder. */
  stateDir: string;
  /** Most events kept; past it the oldest are dropped and counted. At least 1. */
  max: number;
}

export interface OutboxEntry {
  seq: number;
  payload: string;
}

interface PersistedState {
  nextSeq: number;
  dropped: number;
  counts: CountsPayload;
}

export class Outbox {
  private pending: number[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<number>();
  private state: PersistedState = { nextSeq: 1, dropped: 0, counts: zeroCounts() };

  constructor(private readonly opts: OutboxOptions) {}

  get dir(): string {
    return path.join(this.opts.stateDir, 'outbox');
  }
  private get stateFile(): string {
    return path.join(this.opts.stateDir, 'events-state.json');
  }

  /** Loads the state and the waiting events; removes temp files a crash left behind. */
  start(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    for (const name of fs.readdirSync(this.opts.stateDir)) {
      if (name.startsWith('.events-state.json.') && TEMP.test(name)) fs.rmSync(path.join(this.opts.stateDir, name), { force: true });
    }
    this.state = this.readState();
    const seqs: number[] = [];
    let highest = 0;
    for (const name of fs.readdirSync(this.dir)) {
      const file = path.join(this.dir, name);
      if (TEMP.test(name)) {
        fs.rmSync(file, { force: true });
        log.info(`removed half-written ${name} left by an earlier crash`);
        continue;
      }
      const m = ENTRY.exec(name);
      if (!m) continue;
      highest = Math.max(highest, Number(m[1]));
      if (!isJson(file)) {
        fs.rmSync(file, { force: true });
        this.state.dropped++;
        log.warn(`outbox ${name}: unreadable, dropped`);
        continue;
      }
      seqs.push(Number(m[1]));
    }
    this.pending = seqs.sort((a, b) => a - b);
    const last = this.pending[this.pending.length - 1];
    if (highest >= this.state.nextSeq) this.state.nextSeq = highest + 1;
    this.inFlight.clear();
    this.persist();
    if (this.pending.length) log.info(`${this.pending.length} event(s) waiting in the outbox (seq ${this.pending[0]}..${last})`);
  }

  /**
   * Reserves the next seq (persisted before it is used), builds the event with it and writes it durably.
   * Returns the seq. Drops the oldest waiting events past the bound.
   */
  add(build: (seq: number) => { payload: string; label: Label }): Promise<number> {
    return this.serially(async () => {
      const seq = this.state.nextSeq;
      const { payload, label } = build(seq);
      this.state.nextSeq = seq + 1;
      this.state.counts[label]++;
      await durableWriteAsync(this.stateFile, JSON.stringify(this.state));
      await durableWriteAsync(this.entryFile(seq), payload);
      this.pending.push(seq);
      if (this.enforceBound()) await durableWriteAsync(this.stateFile, JSON.stringify(this.state));
      return seq;
    });
  }

  /** Resolves when every add() so far is on disk. */
  idle(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  /** Disk writes run one after another (fsync takes a while on an SD card; the event loop goes on meanwhile). */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  depth(): number {
    return this.pending.length;
  }
  dropped(): number {
    return this.state.dropped;
  }
  counts(): CountsPayload {
    return { ...this.state.counts };
  }
  /** The seq the next event will get. */
  nextSeq(): number {
    return this.state.nextSeq;
  }

  /** Up to n waiting events not yet handed out, oldest first; they count as in flight until ack or release. */
  take(n: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const seq of this.pending) {
      if (out.length >= n) break;
      if (this.inFlight.has(seq)) continue;
      let payload: string;
      try {
        payload = fs.readFileSync(this.entryFile(seq), 'utf8');
      } catch (err) {
        log.warn(`outbox ${seq}: ${errorMessage(err)}; dropped`);
        this.forget(seq);
        this.state.dropped++;
        void this.serially(() => durableWriteAsync(this.stateFile, JSON.stringify(this.state))).catch((e) => log.warn(`${this.stateFile}: ${errorMessage(e)}`));
        return out.concat(this.take(n - out.length));
      }
      this.inFlight.add(seq);
      out.push({ seq, payload });
    }
    return out;
  }

  /** The broker has it: remove it from disk. */
  ack(seq: number): void {
    this.forget(seq);
    fs.rmSync(this.entryFile(seq), { force: true });
  }

  /** Not delivered after all: hand it out again later (in seq order). */
  release(seq: number): void {
    this.inFlight.delete(seq);
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  private forget(seq: number): void {
    this.inFlight.delete(seq);
    const i = this.pending.indexOf(seq);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** Drops the oldest past the bound; true when it dropped any (the caller persists the count). */
  private enforceBound(): boolean {
    const max = Math.max(1, this.opts.max);
    let dropped = 0;
    while (this.pending.length > max) {
      const victim = this.pending.find((s) => !this.inFlight.has(s)) ?? this.pending[0]!;
      this.forget(victim);
      fs.rmSync(this.entryFile(victim), { force: true });
      dropped++;
    }
    if (dropped) {
      this.state.dropped += dropped;
      log.warn(`outbox full (${max}): dropped ${dropped} oldest event(s), ${this.state.dropped} dropped in all`);
    }
    return dropped > 0;
  }

  private entryFile(seq: number): string {
    return path.join(this.dir, `${String(seq).padStart(12, '0')}.json`);
  }

  private readState(): PersistedState {
    let text: string;
    try {
      text = fs.readFileSync(this.stateFile, 'utf8');
    } catch {
      return { nextSeq: 1, dropped: 0, counts: zeroCounts() };
    }
    try {
      const raw = JSON.parse(text) as Partial<PersistedState>;
      const counts = zeroCounts();
      for (const l of LABELS) if (Number.isInteger(raw.counts?.[l])) counts[l] = raw.counts![l];
      return {
        nextSeq: Number.isInteger(raw.nextSeq) && raw.nextSeq! > 0 ? raw.nextSeq! : 1,
        dropped: Number.isInteger(raw.dropped) ? raw.dropped! : 0,
        counts,
      };
    } catch (err) {
      // Written atomically, so this means outside damage; carry on from the outbox's highest seq.
      log.warn(`${this.stateFile}: ${errorMessage(err)}; starting the counters again`);
      return { nextSeq: 1, dropped: 0, counts: zeroCounts() };
    }
  }

  private persist(): void {
    durableWrite(this.stateFile, JSON.stringify(this.state));
  }
}

function zeroCounts(): CountsPayload {
  return Object.fromEntries(LABELS.map((l) => [l, 0])) as CountsPayload;
}

function isJson(file: string): boolean {
  try {
    JSON.parse(fs.readFileSync(file, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

let tempCounter = 0;

/** Temp file, fsync, rename, then fsync the folder so the rename itself survives a power cut. */
async function durableWriteAsync(file: string, data: string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await fsp.rename(tmp, file);
  const dh = await fsp.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** writeFileAtomic, then fsync the folder so the rename itself survives a power cut. */
function durableWrite(file: string, data: string): void {
  writeFileAtomic(file, data);
  const fd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
