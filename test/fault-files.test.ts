/** writeFileAtomic on a disk that takes fewer bytes than asked: never a short file in place. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDirs, writeFileAtomic, type AtomicWriteIo } from '../src/core/files.js';
import { ROOT, runCli } from './helpers/cli.js';
import { Tmpfs } from './helpers/tmpfs.js';

const mounts: Tmpfs[] = [];
after(() => mounts.forEach((m) => m.dispose()));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mw-files-'));

test('a full disk (a real short write, then ENOSPC) leaves the old file whole and no temp file', (t) => {
  const disk = Tmpfs.mount(64);
  if (typeof disk === 'string') return t.skip(disk);
  mounts.push(disk);
  const file = path.join(disk.dir, 'model.bin');
  writeFileAtomic(file, 'old version');
  const big = Buffer.alloc(200 * 1024, 7);
  assert.throws(() => writeFileAtomic(file, big), /ENOSPC/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'old version');
  assert.deepEqual(fs.readdirSync(disk.dir), ['model.bin']);
});

test('writeSync taking a part at a time: the loop writes every byte', () => {
  const file = path.join(tmp(), 'out.bin');
  const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  let calls = 0;
  const io: AtomicWriteIo = {
    ...fs,
    writeSync: ((fd: number, buf: Uint8Array, offset: number, length: number) => (calls++, fs.writeSync(fd, buf, offset, Math.min(length, 999)))) as typeof fs.writeSync,
  };
  writeFileAtomic(file, data, io);
  assert.equal(calls, Math.ceil(data.length / 999));
  assert.deepEqual(fs.readFileSync(file), data);
});

test('writeSync that takes nothing: throws, the old file stays, no temp file', () => {
  const dir = tmp();
  const file = path.join(dir, 'state.json');
  fs.writeFileSync(file, '{"old":true}');
  const io: AtomicWriteIo = { ...fs, writeSync: (() => 0) as typeof fs.writeSync };
  assert.throws(() => writeFileAtomic(file, '{"new":true}', io), /took no bytes/);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"old":true}');
  assert.deepEqual(fs.readdirSync(dir), ['state.json']);
});

test('the folder is fsynced after the rename, so the new name survives a power cut', () => {
  const dir = tmp();
  const file = path.join(dir, 'a.json');
  const opened = new Map<number, string>();
  const synced: string[] = [];
  const io: AtomicWriteIo = {
    ...fs,
    openSync: ((p: string, flags: string) => {
      const fd = fs.openSync(p, flags);
      opened.set(fd, p);
      return fd;
    }) as typeof fs.openSync,
    fsyncSync: (fd: number) => (synced.push(opened.get(fd)!), fs.fsyncSync(fd)),
    renameSync: (a: fs.PathLike, b: fs.PathLike) => (synced.push('rename'), fs.renameSync(a, b)),
  };
  writeFileAtomic(file, 'x', io);
  assert.equal(synced.length, 3);
  assert.match(synced[0]!, /\.a\.json\..*\.tmp$/);
  assert.deepEqual(synced.slice(1), ['rename', dir]);
});

test('an error names the file asked for, not the temp file, in one clause, and keeps its errno code', (t) => {
  const disk = Tmpfs.mount(64);
  if (typeof disk === 'string') return t.skip(disk);
  mounts.push(disk);
  const file = path.join(disk.dir, 'door.png');
  assert.throws(
    () => writeFileAtomic(file, Buffer.alloc(200 * 1024)),
    (err: NodeJS.ErrnoException) => err.message === `cannot write ${file}: no space left on device (ENOSPC)` && err.code === 'ENOSPC',
  );
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'plain'), '');
  const plain = path.join(dir, 'plain');
  assert.throws(() => writeFileAtomic(path.join(plain, 'x.json'), '{}'), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR' && err.message === `cannot write ${plain}/x.json: cannot create the folder ${plain}: ${plain} is a file, not a folder (ENOTDIR)`);
  assert.throws(() => makeDirs(path.join(plain, 'a', 'b')), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR' && err.message === `cannot create the folder ${plain}/a: ${plain} is a file, not a folder (ENOTDIR)`);
  makeDirs(path.join(dir, 'new', 'deeper'));
  assert.ok(fs.statSync(path.join(dir, 'new', 'deeper')).isDirectory());
});

test('a folder under /proc: one error, at once (Node 20\'s recursive mkdir spins there forever, deaf to SIGTERM)', { timeout: 60_000 }, async () => {
  // In a child process with a deadline: a regression would hang this process, not fail it.
  const started = Date.now();
  const r = await runCli(['predict', path.join(ROOT, 'test/fixtures/faces', fs.readdirSync(path.join(ROOT, 'test/fixtures/faces')).find((f) => f.endsWith('.jpg'))!), '--annotate', '/proc/maskwatch-test/out'], { timeoutMs: 30_000 });
  assert.ok(Date.now() - started < 30_000, 'it did not hang');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot create the folder \/proc\/maskwatch-test: this file system takes no new folders there \(ENOENT\)/);
  assert.throws(() => makeDirs('/proc/maskwatch-test/a/b'), /^Error: cannot create the folder \/proc\/maskwatch-test: this file system takes no new folders there \(ENOENT\)$/);
});
