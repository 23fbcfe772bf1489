/**
 * What Outbox.start() finds on disk: the events waiting in `<stateDir>/outbox/`, and what a crash or a
 * person left there. Nothing here throws or blocks a start: a half-written temp file is removed, an
 * entry that is not a readable event (damaged file, folder, FIFO, symlink) is renamed aside to
 * `<name>.damaged` (kept for a look, never deleted), anything else is left alone; one warning says so.
 */
import path from 'node:path';
import { fsErrorText } from '../core/files.js';
import { type FileKind, type FileOps } from '../core/fs-ops.js';
import { createLogger, listSome } from '../core/log.js';
import { LABELS, type Label } from '../core/types.js';

const log = createLogger('outbox');
const ENTRY = /^(\d{12})\.json$/;
const TEMP = /^\..*\.tmp$/;
const STATE_TEMP = /^\.events-state\.json\..*\.tmp$/;
const DAMAGED_SUFFIX = '.damaged';

export interface FolderScan {
  /** Readable events, by seq; label as the event file says (null when it names none). */
  entries: { seq: number; label: Label | null }[];
  /** The highest seq this outbox may have used (0 for none). */
  highest: number;
  /** Event files (regular files with an entry's name) that were not readable: counted as dropped. */
  damaged: number;
}

export function scanOutboxFolder(dir: string, fs: FileOps): FolderScan {
  const entries: FolderScan['entries'] = [];
  const skipped: string[] = [];
  const movedAside: string[] = [];
  let highest = 0;
  let damaged = 0;
  for (const name of listOrEmpty(fs, dir)) {
    const file = path.join(dir, name);
    let kind: FileKind;
    try {
      kind = fs.kind(file);
    } catch {
      skipped.push(name);
      continue;
    }
    if (TEMP.test(name) && kind === 'file') {
      removeTemp(fs, file);
      continue;
    }
    if (name.endsWith(DAMAGED_SUFFIX)) continue;
    const m = ENTRY.exec(name);
    if (!m) {
      skipped.push(kind === 'dir' ? `${name}/` : name);
      continue;
    }
    const seq = Number(m[1]);
    // Only regular files are written here; anything else with an entry's name never was an event.
    const event = kind === 'file' ? readEvent(fs, file) : null;
    if (event) {
      entries.push({ seq, label: event.label });
      highest = Math.max(highest, seq);
      continue;
    }
    if (kind === 'file') {
      damaged++;
      highest = Math.max(highest, seq);
    }
    try {
      fs.rename(file, file + DAMAGED_SUFFIX);
      movedAside.push(name);
    } catch (err) {
      // Left in place, its seq must not come round again (the write would fail on it).
      highest = Math.max(highest, seq);
      skipped.push(`${name} (${fsErrorText(err)})`);
    }
  }
  if (skipped.length || movedAside.length) {
    const parts: string[] = [];
    if (movedAside.length) parts.push(`moved ${movedAside.length} entry(ies) that are not readable events aside to *${DAMAGED_SUFFIX} (${listNames(movedAside)})`);
    if (skipped.length) parts.push(`skipped ${skipped.length} item(s) that are not events (${listNames(skipped)})`);
    log.warn(`outbox ${dir}: ${parts.join('; ')}`);
  }
  entries.sort((a, b) => a.seq - b.seq);
  return { entries, highest, damaged };
}

/** Removes the temp files of state writes a crash cut short. */
export function removeStateTemps(stateDir: string, fs: FileOps): void {
  for (const name of listOrEmpty(fs, stateDir)) {
    const file = path.join(stateDir, name);
    if (STATE_TEMP.test(name) && safeKind(fs, file) === 'file') removeTemp(fs, file);
  }
}

/** Deletes one file; false (and no throw) when the disk refuses. */
export function tryRemove(fs: FileOps, file: string): boolean {
  try {
    fs.remove(file);
    return true;
  } catch {
    return false;
  }
}

/** The event's label when the file holds a JSON object, else null. */
function readEvent(fs: FileOps, file: string): { label: Label | null } | null {
  try {
    const raw = JSON.parse(fs.readText(file)) as unknown;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
    const label = (raw as { label?: unknown }).label;
    return { label: LABELS.includes(label as Label) ? (label as Label) : null };
  } catch {
    return null;
  }
}

function listOrEmpty(fs: FileOps, dir: string): string[] {
  try {
    return fs.list(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.error(`cannot list ${dir}: ${fsErrorText(err)}`);
    return [];
  }
}

function safeKind(fs: FileOps, file: string): FileKind | null {
  try {
    return fs.kind(file);
  } catch {
    return null;
  }
}

function removeTemp(fs: FileOps, file: string): void {
  if (tryRemove(fs, file)) log.info(`removed half-written ${path.basename(file)} left by an earlier crash`);
}

/** Up to five names, JSON-quoted (a file name may hold a newline or an escape sequence). */
function listNames(names: string[]): string {
  return listSome(names.map((n) => JSON.stringify(n)));
}
