/**
 * The few file operations the durable outbox makes, behind one small interface so that a test can make
 * one of them fail the way a disk does (EACCES on unlink cannot be produced for root with chmod).
 * `nodeFileOps` is the real thing; a test wraps it and overrides the call it breaks.
 */
import fs from 'node:fs';
import { makeDirs, writeFileAtomicAsync } from './files.js';

export type FileKind = 'file' | 'dir' | 'other' | 'missing';

export interface FileOps {
  /** Whole or absent, on disk (fsync of the file and the folder) when it resolves. */
  writeAtomic(file: string, data: string): Promise<void>;
  /** Deletes one file; a missing file is fine. Never recursive. */
  remove(file: string): void;
  rename(from: string, to: string): void;
  readText(file: string): string;
  list(dir: string): string[];
  /** What is at the path, without following a symlink (a symlink is 'other'). */
  kind(file: string): FileKind;
  mkdirp(dir: string): void;
}

export const nodeFileOps: FileOps = {
  writeAtomic: (file, data) => writeFileAtomicAsync(file, data),
  remove(file) {
    try {
      fs.unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  },
  rename: (from, to) => fs.renameSync(from, to),
  readText: (file) => fs.readFileSync(file, 'utf8'),
  list: (dir) => fs.readdirSync(dir),
  kind(file) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw err;
    }
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  },
  mkdirp: (dir) => makeDirs(dir),
};
