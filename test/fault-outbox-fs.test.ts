/**
 * Disk faults a mount cannot give root (EACCES on unlink), or cannot give at the exact moment needed
 * (the event file written, then the state save failing), injected through the outbox's FileOps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeFileOps, type FileOps } from '../src/core/fs-ops.js';
import { setLogSink } from '../src/core/log.js';
import type { Label } from '../src/core/types.js';
import { Outbox } from '../src/events/outbox.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mw-outbox-fs-'));
const add = (o: Outbox, label: Label = 'mask') => o.add((seq) => ({ payload: JSON.stringify({ seq, label }), label }));
const entries = (dir: string) => fs.readdirSync(path.join(dir, 'outbox')).sort();
const name = (seq: number) => `${String(seq).padStart(12, '0')}.json`;

function errno(code: string, text: string, syscall: string, file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${file}'`), { code, syscall, path: file });
}

/** The real file operations, with `fail` deciding per call whether one of them throws instead. */
function faultyOps(fail: { remove?: (file: string) => boolean; write?: (file: string) => boolean }): FileOps {
  return {
    ...nodeFileOps,
    remove(file) {
      if (fail.remove?.(file)) throw errno('EACCES', 'permission denied', 'unlink', file);
      nodeFileOps.remove(file);
    },
    async writeAtomic(file, data) {
      if (fail.write?.(file)) throw errno('ENOSPC', 'no space left on device', 'write', file);
      await nodeFileOps.writeAtomic(file, data);
    },
  };
}

function captureLog(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  return { lines, restore: () => setLogSink(previous) };
}

test('EACCES deleting acknowledged events: ack never throws, nothing is handed out again (also after a restart), one log line', async () => {
  const dir = tmp();
  let refuse = true;
  const ops = faultyOps({ remove: (f) => refuse && f.includes(`${path.sep}outbox${path.sep}`) });
  const log = captureLog();
  try {
    const o = new Outbox({ stateDir: dir, max: 100, fs: ops });
    o.start();
    for (let i = 0; i < 3; i++) await add(o);
    assert.deepEqual(o.take(10).map((e) => e.seq), [1, 2, 3]);
    for (const seq of [1, 2, 3]) assert.doesNotThrow(() => o.ack(seq));
    await o.idle();
    assert.equal(o.depth(), 0);
    assert.deepEqual(o.take(10), [], 'acknowledged events are not sent again');
    assert.deepEqual(entries(dir), [name(1), name(2), name(3)], 'the files are still there');
    assert.equal(log.lines.filter((l) => /WARN .*cannot delete/.test(l)).length, 1, log.lines.join('\n'));
    assert.ok(log.lines.find((l) => /cannot delete/.test(l))!.includes('permission denied (EACCES)'));

    // A restart while deletes still fail: the saved state says these were delivered.
    const again = new Outbox({ stateDir: dir, max: 100, fs: ops });
    again.start();
    await again.idle();
    assert.equal(again.depth(), 0);
    assert.deepEqual(again.take(10), []);

    // Deletes work again: the next event takes seq 4 and the old files go.
    refuse = false;
    assert.equal(await add(again), 4);
    assert.deepEqual(entries(dir), [name(4)]);
    assert.ok(log.lines.some((l) => /INFO .*deleted again/.test(l)), log.lines.join('\n'));
  } finally {
    log.restore();
  }
});

test('events dropped from a full outbox whose files cannot be deleted are not delivered after a restart', async () => {
  const dir = tmp();
  const ops = faultyOps({ remove: (f) => f.includes(`${path.sep}outbox${path.sep}`) });
  const log = captureLog();
  try {
    const o = new Outbox({ stateDir: dir, max: 2, fs: ops });
    o.start();
    for (let i = 0; i < 4; i++) await add(o);
    assert.deepEqual({ depth: o.depth(), dropped: o.dropped() }, { depth: 2, dropped: 2 });
    assert.equal(entries(dir).length, 4);
    const again = new Outbox({ stateDir: dir, max: 2, fs: ops });
    again.start();
    assert.deepEqual(again.take(10).map((e) => e.seq), [3, 4]);
    assert.equal(again.dropped(), 2);
  } finally {
    log.restore();
  }
});

test('event written but the state save fails: the event is accepted, its seq is never reused, the counts are repaired at the next start', async () => {
  const dir = tmp();
  let stateFails = false;
  const ops = faultyOps({ write: (f) => stateFails && path.basename(f).startsWith('events-state.json') });
  const log = captureLog();
  try {
    const o = new Outbox({ stateDir: dir, max: 100, fs: ops });
    o.start();
    assert.equal(await add(o, 'mask'), 1);
    assert.equal(await add(o, 'no_mask'), 2);
    for (const e of o.take(10)) o.ack(e.seq);
    await o.idle();
    assert.deepEqual(entries(dir), []);
    stateFails = true;
    assert.equal(await add(o, 'no_mask'), 3);
    assert.equal(await add(o, 'mask_incorrect'), 4);
    assert.deepEqual(o.counts(), { mask: 1, no_mask: 2, mask_incorrect: 1 });
    // Delivered, but the saved state still says nextSeq 3: the files are the only record of 3 and 4 and stay.
    for (const e of o.take(10)) o.ack(e.seq);
    await o.idle();
    assert.deepEqual(entries(dir), [name(3), name(4)]);
    assert.equal(log.lines.filter((l) => /WARN .*cannot save/.test(l)).length, 1, log.lines.join('\n'));

    // Power cut now, disk fine at the next start: seq goes on at 5, the counts include 3 and 4.
    stateFails = false;
    const again = new Outbox({ stateDir: dir, max: 100, fs: ops });
    again.start();
    assert.equal(again.nextSeq(), 5);
    assert.deepEqual(again.counts(), { mask: 1, no_mask: 2, mask_incorrect: 1 });
    // At least once: 3 and 4 go out again (same payload, same id), and are deleted when acknowledged.
    assert.deepEqual(again.take(10).map((e) => e.seq), [3, 4]);
    again.ack(3);
    again.ack(4);
    await again.idle();
    assert.deepEqual(entries(dir), []);
    assert.equal(await add(again), 5);
  } finally {
    log.restore();
  }
});

test('the event file cannot be written: add rejects with one short reason, no seq is used, nothing is counted', async () => {
  const dir = tmp();
  let full = false;
  const o = new Outbox({ stateDir: dir, max: 100, fs: faultyOps({ write: (f) => full && f.includes(`${path.sep}outbox${path.sep}`) }) });
  o.start();
  assert.equal(await add(o), 1);
  full = true;
  await assert.rejects(add(o), /^Error: no space left on device \(ENOSPC\)$/);
  await assert.rejects(add(o), /ENOSPC/);
  assert.deepEqual({ next: o.nextSeq(), counts: o.counts(), notStored: o.notStored(), dropped: o.dropped() }, { next: 2, counts: { mask: 1, no_mask: 0, mask_incorrect: 0 }, notStored: 2, dropped: 0 });
  full = false;
  assert.equal(await add(o), 2);
  const again = new Outbox({ stateDir: dir, max: 100 });
  again.start();
  assert.deepEqual({ next: again.nextSeq(), notStored: again.notStored() }, { next: 3, notStored: 2 });
});
