/**
 * The durable event outbox: one file per event in `<stateDir>/outbox/`, named by its zero-padded seq.
 *
 * Why one file per event rather than an append-only log: an event leaves the outbox when the broker
 * acknowledges it, in any order relative to new events being added; with files that is one unlink, and
 * a power cut can only leave a stray temp file (ignored and removed at start). A log would need
 * acknowledgement records and compaction to get the same guarantees. Events are rare (one per
 * person), so the cost of a few fsyncs per event does not matter.
 *
 * An event is accepted once its file is on disk; only then does its seq count as used. The counters
 * (next seq, dropped, per-label counts) follow in `events-state.json` and its `.bak` (outbox-state.ts).
 * A crash between the two is repaired at start from the files themselves (their seq and `label`).
 * A disk that fails at run time (full, read-only, refusing deletes) never throws out of ack/release/take:
 * it is logged once when it starts and once when it ends, and nothing accepted is lost or sent twice
 * in one run.
 */
import path from 'node:path';
import { fsErrorText } from '../core/files.js';
import { type FileOps, nodeFileOps } from '../core/fs-ops.js';
import { createLogger, errorMessage } from '../core/log.js';
import type { Label } from '../core/types.js';
import { removeStateTemps, scanOutboxFolder, tryRemove } from './outbox-scan.js';
import { freshCounters, type OutboxCounters, StateFiles } from './outbox-state.js';
import type { CountsPayload } from './topics.js';

const log = createLogger('outbox');

export interface OutboxOptions {
  /** The daemon's state dir; the outbox lives in its `outbox/` folder. */
  stateDir: string;
  /** Most events kept; past it the oldest are dropped and counted. At least 1. */
  max: number;
  /** The file operations (a test injects failing ones); the real ones by default. */
  fs?: FileOps;
}

export interface OutboxEntry {
  seq: number;
  payload: string;
}

export class Outbox {
  private pending: number[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<number>();
  /** Delivered or dropped, file not yet deleted (deleting failed, or its seq is not in a saved state yet). */
  private readonly toDelete = new Set<number>();
  private state: OutboxCounters = freshCounters();
  /** nextSeq as last saved: the file of a seq at or above it is the only record that the seq was used. */
  private savedNextSeq = 1;
  private saveQueued = false;
  /** Disk troubles going on, by kind, with the error code each was first seen with and whether it was logged. */
  private readonly failing = new Map<Trouble, { code: string; logged: boolean }>();
  private files: StateFiles | null = null;

  constructor(private readonly opts: OutboxOptions) {}

  get dir(): string {
    return path.join(this.opts.stateDir, 'outbox');
  }
  private get fs(): FileOps {
    return this.opts.fs ?? nodeFileOps;
  }

  /** Loads the counters and the waiting events; clears what a crash left behind; never deletes a folder. */
  start(): void {
    const files = (this.files = new StateFiles(this.opts.stateDir, this.fs));
    try {
      this.fs.mkdirp(this.dir);
    } catch (err) {
      log.error(`cannot create ${this.dir}: ${fsErrorText(err)}; events are not stored until it can be written`);
    }
    removeStateTemps(this.opts.stateDir, this.fs);
    const read = files.read();
    const saved = read.counters;
    const scan = scanOutboxFolder(this.dir, this.fs);
    this.state = saved ? { ...saved, counts: { ...saved.counts } } : freshCounters();
    this.savedNextSeq = saved?.nextSeq ?? 1;
    const undeleted = new Set(this.state.undeleted);
    this.toDelete.clear();
    this.pending = [];
    // Stored, but the process died before the counters were saved (or they are lost): count them now.
    const uncounted = saved?.nextSeq ?? 1;
    for (const { seq, label } of scan.entries) {
      if (undeleted.has(seq)) {
        this.toDelete.add(seq);
        continue;
      }
      if (seq >= uncounted && label) this.state.counts[label]++;
      this.pending.push(seq);
    }
    this.state.dropped += scan.damaged;
    this.state.nextSeq = Math.max(this.state.nextSeq, scan.highest + 1);
    // Counters lost and no event left to go on from: the seqs already sent are unknown, so go on above any this device
    // can have used (one per second since 1970, far more than a door sees) rather than send 1, 2, … a second time.
    const lostCount = !saved && read.anyFile && scan.highest === 0;
    if (lostCount) this.state.nextSeq = Math.max(this.state.nextSeq, Math.floor(Date.now() / 1000));
    this.inFlight.clear();
    if (saved && read.problems.length) {
      log.warn(`${this.opts.stateDir}: ${read.problems.join('; ')}: resumed from the other copy (seq continues at ${this.state.nextSeq})`);
    } else if (!saved && (read.anyFile || scan.highest > 0)) {
      const why = read.problems.length ? read.problems.join('; ') : 'missing';
      log.warn(`${files.file} and its .bak: ${why}; seq continues at ${this.state.nextSeq} (${lostCount ? 'the seconds since 1970: the last seq sent is not known, and none may be sent twice' : 'above every event in the outbox'}), the counts start again from the ${this.pending.length} event(s) in the outbox, outboxDropped from 0`);
    }
    this.saveSoon();
    const last = this.pending[this.pending.length - 1];
    if (this.pending.length) log.info(`${this.pending.length} event(s) waiting in the outbox (seq ${this.pending[0]}..${last})`);
  }

  /**
   * Builds the event with the next seq and writes it durably; resolves with the seq once it is on disk.
   * Rejects (one short reason) when it cannot be written: the seq is not used and the event not counted,
   * only notStored() grows. Drops the oldest waiting events past the bound.
   */
  add(build: (seq: number) => { payload: string; label: Label }): Promise<number> {
    return this.serially(async () => {
      const seq = this.state.nextSeq;
      const { payload, label } = build(seq);
      const file = this.entryFile(seq);
      try {
        this.fs.mkdirp(this.dir);
        await this.fs.writeAtomic(file, payload);
      } catch (err) {
        this.state.notStored++;
        // The rename may have landed before the folder fsync failed; the seq is not used, so neither is the file.
        tryRemove(this.fs, file);
        throw new Error(fsErrorText(err));
      }
      this.state.nextSeq = seq + 1;
      this.state.counts[label]++;
      this.pending.push(seq);
      this.enforceBound();
      await this.saveState();
      this.flushDeletes();
      return seq;
    });
  }

  /** Resolves when every add() so far is on disk. */
  idle(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  depth(): number {
    return this.pending.length;
  }
  /** Events dropped from a full outbox (or found damaged in it): each one a gap in seq. */
  dropped(): number {
    return this.state.dropped;
  }
  /** Events add() could not write (full or read-only disk). They got no seq, so they leave no gap. */
  notStored(): number {
    return this.state.notStored;
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
    const vanished: number[] = [];
    for (const seq of this.pending) {
      if (out.length >= n) break;
      if (this.inFlight.has(seq)) continue;
      let payload: string;
      try {
        payload = this.fs.readText(this.entryFile(seq));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          vanished.push(seq);
          continue;
        }
        // Stop here rather than send later events first; the next drain tries again.
        this.trouble('read', err, `cannot read ${this.entryFile(seq)}: ${fsErrorText(err)}; delivery waits and tries again`);
        break;
      }
      this.inFlight.add(seq);
      out.push({ seq, payload });
    }
    if (out.length) this.recovered('read', `events in ${this.dir} are readable again`);
    if (vanished.length) {
      for (const seq of vanished) this.forget(seq);
      this.state.dropped += vanished.length;
      log.warn(`outbox: ${vanished.length} event file(s) vanished (seq ${vanished.join(', ')}); counted as dropped`);
      this.saveSoon();
    }
    return out;
  }

  /** The broker has it: never handed out again; its file is deleted (now, or once the disk allows). Never throws. */
  ack(seq: number): void {
    this.forget(seq);
    this.toDelete.add(seq);
    this.flushDeletes();
    // A file that stays must be listed in the saved state, or the next start would send it again.
    if (this.toDelete.has(seq)) this.saveSoon();
  }

  /** Not delivered after all: hand it out again later (in seq order). */
  release(seq: number): void {
    this.inFlight.delete(seq);
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Disk writes run one after another (fsync takes a while on an SD card; the event loop goes on meanwhile). */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Queues one save of the counters (and the deletes it allows) unless one is queued already. */
  private saveSoon(): void {
    if (this.saveQueued) return;
    this.saveQueued = true;
    this.serially(async () => {
      this.saveQueued = false;
      await this.saveState();
      this.flushDeletes();
    }).catch((err) => log.warn(`saving the outbox state: ${errorMessage(err)}`));
  }

  /** Saves the counters; never throws (a failure is logged once until a save works again). */
  private async saveState(): Promise<void> {
    if (!this.files) return;
    this.state.undeleted = [...this.toDelete].sort((a, b) => a - b);
    const nextSeq = this.state.nextSeq;
    const { saved, error } = await this.files.write(this.state);
    if (saved > 0) this.savedNextSeq = Math.max(this.savedNextSeq, nextSeq);
    if (!error) this.recovered('state', `${this.files.file} is saved again`);
    else if (saved > 0) this.trouble('state', error, `cannot write one copy of ${this.files.file}: ${fsErrorText(error)}; the other copy is saved`);
    else this.trouble('state', error, `cannot save ${this.files.file}: ${fsErrorText(error)}; stored events are safe, the counters are saved with the next event that can be`);
  }

  /** Deletes the files of delivered or dropped events, oldest first; stops at the first failure. */
  private flushDeletes(): void {
    let deleted = 0;
    for (const seq of [...this.toDelete].sort((a, b) => a - b)) {
      if (seq >= this.savedNextSeq) continue;
      try {
        this.fs.remove(this.entryFile(seq));
      } catch (err) {
        this.trouble('delete', err, `cannot delete delivered or dropped events in ${this.dir}: ${fsErrorText(err)}; they are kept, not sent again, and deleted once the disk allows`);
        return;
      }
      this.toDelete.delete(seq);
      deleted++;
    }
    if (deleted) this.recovered('delete', `delivered or dropped events in ${this.dir} are deleted again`);
  }

  private forget(seq: number): void {
    this.inFlight.delete(seq);
    const i = this.pending.indexOf(seq);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** Drops the oldest past the bound (their files go once the new count is saved). */
  private enforceBound(): void {
    const max = Math.max(1, this.opts.max);
    let dropped = 0;
    while (this.pending.length > max) {
      const victim = this.pending.find((s) => !this.inFlight.has(s)) ?? this.pending[0]!;
      this.forget(victim);
      this.toDelete.add(victim);
      dropped++;
    }
    if (dropped) {
      this.state.dropped += dropped;
      log.warn(`outbox full (${max}): dropped ${dropped} oldest event(s), ${this.state.dropped} dropped in all`);
    }
  }

  /** Logs a disk trouble once until it ends; not at all when another kind already said the same (one read-only disk, one line). */
  private trouble(kind: Trouble, err: unknown, line: string): void {
    if (this.failing.has(kind)) return;
    const code = String((err as NodeJS.ErrnoException).code ?? 'unknown');
    const logged = ![...this.failing.values()].some((f) => f.logged && f.code === code);
    this.failing.set(kind, { code, logged });
    if (logged) log.warn(line);
  }

  private recovered(kind: Trouble, line: string): void {
    const f = this.failing.get(kind);
    this.failing.delete(kind);
    if (f?.logged) log.info(line);
  }

  private entryFile(seq: number): string {
    return path.join(this.dir, `${String(seq).padStart(12, '0')}.json`);
  }
}

type Trouble = 'state' | 'delete' | 'read';
