/**
 * The outbox's counters in `<stateDir>/events-state.json` and a second copy, `events-state.json.bak`.
 *
 * Both copies are written (each atomically) every time, one after the other, so outside damage to one
 * file (a bad SD card sector, an editor, a truncating copy) leaves the other. Every field only ever
 * grows, so reading takes the field-wise highest of the valid copies: after a crash between the two
 * writes that is the newer copy, and a damaged copy never winds seq back to numbers already delivered.
 */
import path from 'node:path';
import { fsErrorText } from '../core/files.js';
import { type FileOps } from '../core/fs-ops.js';
import { LABELS } from '../core/types.js';
import type { CountsPayload } from './topics.js';

export interface OutboxCounters {
  /** The seq the next stored event gets. */
  nextSeq: number;
  /** Events dropped from a full outbox (or found damaged in it). */
  dropped: number;
  /** Events that could not be written to the outbox (full or read-only disk); they got no seq. */
  notStored: number;
  counts: CountsPayload;
  /** Delivered or dropped seqs whose files could not be deleted yet: not to be sent again. */
  undeleted: number[];
}

export interface ReadResult {
  /** The field-wise highest of the valid copies; null when neither copy is usable. */
  counters: OutboxCounters | null;
  /** One clause per copy that exists but is unusable. */
  problems: string[];
  /** True when either copy exists (a missing state with events in the outbox is itself damage). */
  anyFile: boolean;
}

export function freshCounters(): OutboxCounters {
  return { nextSeq: 1, dropped: 0, notStored: 0, counts: Object.fromEntries(LABELS.map((l) => [l, 0])) as CountsPayload, undeleted: [] };
}

export class StateFiles {
  readonly file: string;
  readonly backup: string;

  constructor(stateDir: string, private readonly fs: FileOps) {
    this.file = path.join(stateDir, 'events-state.json');
    this.backup = `${this.file}.bak`;
  }

  read(): ReadResult {
    const problems: string[] = [];
    const valid: OutboxCounters[] = [];
    let anyFile = false;
    for (const file of [this.file, this.backup]) {
      let text: string;
      try {
        const kind = this.fs.kind(file);
        if (kind === 'missing') continue;
        anyFile = true;
        // A FIFO would block the read for good.
        if (kind !== 'file') throw new Error('not a regular file');
        text = this.fs.readText(file);
      } catch (err) {
        problems.push(`${path.basename(file)}: ${fsErrorText(err)}`);
        continue;
      }
      const parsed = parseCounters(text);
      if (typeof parsed === 'string') problems.push(`${path.basename(file)}: ${parsed}`);
      else valid.push(parsed);
    }
    return { counters: valid.length ? valid.reduce(highest) : null, problems, anyFile };
  }

  /** Writes both copies, never throws: how many are on disk now, and the error of a copy that failed. */
  async write(c: OutboxCounters): Promise<WriteResult> {
    const text = JSON.stringify(c);
    const result: WriteResult = { saved: 0, error: null };
    for (const file of [this.file, this.backup]) {
      try {
        await this.fs.writeAtomic(file, text);
        result.saved++;
      } catch (err) {
        result.error ??= err;
      }
    }
    return result;
  }
}

export interface WriteResult {
  /** Copies written (0, 1 or 2); one is enough to resume from, both guard against later damage. */
  saved: number;
  error: unknown;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The counters, or why the text is not a state file (any wrong field rejects the whole copy). */
export function parseCounters(text: string): OutboxCounters | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return text.length ? 'not valid JSON (truncated or damaged)' : 'empty';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not a JSON object';
  const r = raw as Record<string, unknown>;
  if (!isCount(r.nextSeq) || r.nextSeq < 1) return 'nextSeq is not a positive integer';
  if (!isCount(r.dropped)) return 'dropped is not a count';
  // Written by every version since it exists; older state files lack them.
  if (r.notStored !== undefined && !isCount(r.notStored)) return 'notStored is not a count';
  if (r.undeleted !== undefined && !(Array.isArray(r.undeleted) && r.undeleted.every((s) => isCount(s) && s >= 1))) return 'undeleted is not a list of seqs';
  const counts = r.counts as Record<string, unknown> | undefined;
  if (typeof counts !== 'object' || counts === null) return 'counts is not an object';
  for (const l of LABELS) if (!isCount(counts[l])) return `counts.${l} is not a count`;
  return {
    nextSeq: r.nextSeq,
    dropped: r.dropped,
    notStored: (r.notStored as number | undefined) ?? 0,
    counts: Object.fromEntries(LABELS.map((l) => [l, counts[l]])) as CountsPayload,
    undeleted: [...((r.undeleted as number[] | undefined) ?? [])],
  };
}

/** Field-wise highest of two copies; the undeleted lists are joined (a seq in either is not sent again). */
function highest(a: OutboxCounters, b: OutboxCounters): OutboxCounters {
  return {
    nextSeq: Math.max(a.nextSeq, b.nextSeq),
    dropped: Math.max(a.dropped, b.dropped),
    notStored: Math.max(a.notStored, b.notStored),
    counts: Object.fromEntries(LABELS.map((l) => [l, Math.max(a.counts[l], b.counts[l])])) as CountsPayload,
    undeleted: [...new Set([...a.undeleted, ...b.undeleted])],
  };
}
