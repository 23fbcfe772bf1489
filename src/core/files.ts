import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** The fs calls writeFileAtomic makes (a test passes one whose writeSync writes less than asked). */
export type AtomicWriteIo = Pick<typeof fs, 'openSync' | 'writeSync' | 'fsyncSync' | 'closeSync' | 'renameSync' | 'rmSync' | 'mkdirSync'>;

/** `no space left on device (ENOSPC)` from Node's `ENOSPC: no space left on device, open '…'`: one short clause for a log line. */
export function fsErrorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^(E[A-Z0-9]+): ([^,]+)/.exec(message);
  return m ? `${m[2]} (${m[1]})` : message;
}

/** The nearest folder or file that exists at or above dir, and the missing levels below it (deepest first). */
function nearestExisting(dir: string): { found: string; stat: fs.Stats | null; missing: string[] } {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    try {
      return { found: current, stat: fs.statSync(current), missing };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) return { found: current, stat: null, missing };
    current = parent;
  }
}

/**
 * `mkdir -p` that cannot spin: Node 20's recursive mkdirSync loops forever, ignoring signals, where mkdir says ENOENT
 * under a folder that exists (/proc, /sys). Missing folders are made one by one from the nearest one that exists;
 * a file in the way, or a file system that takes no new folders, is one error naming the folder.
 */
export function makeDirs(dir: string, io: Pick<typeof fs, 'mkdirSync'> = fs): void {
  const { found, stat, missing } = nearestExisting(dir);
  if (stat && !stat.isDirectory()) throw codedError(`cannot create the folder ${missing.at(-1) ?? found}: ${found} is a file, not a folder (ENOTDIR)`, 'ENOTDIR');
  for (const folder of missing.reverse()) {
    try {
      io.mkdirSync(folder);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && fs.statSync(folder).isDirectory()) continue;
      const why = code === 'ENOENT' ? 'this file system takes no new folders there (ENOENT)' : fsErrorText(err);
      throw codedError(`cannot create the folder ${folder}: ${why}`, code);
    }
  }
}

function codedError(message: string, code: string | undefined): NodeJS.ErrnoException {
  const err = new Error(message) as NodeJS.ErrnoException;
  if (code) err.code = code;
  return err;
}

/** Kernel file systems (proc, sysfs) where no folder can be made; statfs f_type values. */
const KERNEL_FS = new Map([[0x9fa0, '/proc'], [0x62656572, '/sys']]);

/**
 * Why this folder can be neither used nor made, or null: it must be a folder, or its nearest existing parent a folder
 * not on /proc or /sys. For checks before long work, so that a bad output path fails first, not last.
 */
export function folderProblem(dir: string): string | null {
  const shown = path.isAbsolute(dir) ? dir : `${dir} (${path.resolve(dir)})`;
  let nearest;
  try {
    nearest = nearestExisting(dir);
  } catch (err) {
    return `${shown}: ${fsErrorText(err)}`;
  }
  const { found, stat, missing } = nearest;
  if (!stat) return null;
  if (!stat.isDirectory()) return missing.length ? `${shown} cannot be made: ${found} is a file` : `${shown}: not a folder`;
  const kernel = KERNEL_FS.get(Number(fs.statfsSync(found).type));
  return kernel ? `${shown}: on ${kernel}, where nothing can be kept` : null;
}

/** Why a file could not be written here, or null: checked before long work (the write itself still reports its own errors). */
export function outputFileProblem(file: string): string | null {
  try {
    if (fs.statSync(file).isDirectory()) return `${file}: is a folder, not a file`;
  } catch {
    /* not there yet */
  }
  return folderProblem(path.dirname(path.resolve(file)));
}

let tempCounter = 0;

/** A temp name next to file, unique within this process; `.<name>.<pid>.<n>.tmp`. */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
}

/**
 * Writes a file so that it is either whole or absent, also after a power cut: temp file in the same
 * folder, every byte written (a short write is retried, never renamed into place), fsync, rename,
 * fsync of the folder so the rename itself is on disk.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, io: AtomicWriteIo = fs): void {
  try {
    writeWhole(file, data, io);
  } catch (err) {
    // Named by the file asked for, not the temp file the error was raised on; the errno code stays for callers.
    const named = new Error(`cannot write ${file}: ${fsErrorText(err)}`, { cause: err }) as NodeJS.ErrnoException;
    named.code = (err as NodeJS.ErrnoException).code;
    throw named;
  }
}

function writeWhole(file: string, data: string | Uint8Array, io: AtomicWriteIo): void {
  makeDirs(path.dirname(file), io);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const tmp = tempNameFor(file);
  const fd = io.openSync(tmp, 'w');
  try {
    for (let done = 0; done < bytes.byteLength; ) {
      const n = io.writeSync(fd, bytes, done, bytes.byteLength - done);
      if (!(n > 0)) throw new Error(`${tmp}: the file system took no bytes (${done} of ${bytes.byteLength} written)`);
      done += n;
    }
    io.fsyncSync(fd);
  } catch (err) {
    io.closeSync(fd);
    io.rmSync(tmp, { force: true });
    throw err;
  }
  io.closeSync(fd);
  try {
    io.renameSync(tmp, file);
  } catch (err) {
    io.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(file), io);
}

/** writeFileAtomic without blocking the event loop on the fsyncs (slow on an SD card). */
export async function writeFileAtomicAsync(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempNameFor(file);
  const fh = await fsp.open(tmp, 'w');
  try {
    // FileHandle.writeFile loops until every byte is written (or throws).
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  const dh = await fsp.open(path.dirname(file), 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

function fsyncDir(dir: string, io: AtomicWriteIo): void {
  const fd = io.openSync(dir, 'r');
  try {
    io.fsyncSync(fd);
  } finally {
    io.closeSync(fd);
  }
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(fs.readFileSync(file));
}
