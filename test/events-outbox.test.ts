import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Outbox } from '../src/events/outbox.js';
import type { Label } from '../src/core/types.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mw-outbox-'));
const add = (o: Outbox, label: Label = 'mask') => o.add((seq) => ({ payload: JSON.stringify({ seq, label }), label }));

test('seq goes up by one per event and survives a restart; files are named by zero-padded seq', async () => {
  const dir = tmp();
  const a = new Outbox({ stateDir: dir, max: 100 });
  a.start();
  assert.deepEqual(await Promise.all([add(a), add(a), add(a, 'no_mask')]), [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'outbox')).sort(), ['000000000001.json', '000000000002.json', '000000000003.json']);
  const taken = a.take(10);
  assert.deepEqual(taken.map((e) => e.seq), [1, 2, 3]);
  a.ack(1);
  a.release(2);
  // Restart (as after SIGKILL): unacknowledged events are still there, the counter continues.
  const b = new Outbox({ stateDir: dir, max: 100 });
  b.start();
  assert.equal(b.depth(), 2);
  assert.deepEqual(b.take(10).map((e) => [e.seq, JSON.parse(e.payload).seq]), [[2, 2], [3, 3]]);
  assert.equal(await add(b), 4);
  assert.deepEqual(b.counts(), { mask: 3, no_mask: 1, mask_incorrect: 0 });
});

test('take hands out each event once until released, oldest first', async () => {
  const o = new Outbox({ stateDir: tmp(), max: 100 });
  o.start();
  for (let i = 0; i < 5; i++) await add(o);
  assert.deepEqual(o.take(2).map((e) => e.seq), [1, 2]);
  assert.deepEqual(o.take(2).map((e) => e.seq), [3, 4]);
  o.release(1);
  assert.deepEqual(o.take(5).map((e) => e.seq), [1, 5]);
  assert.equal(o.inFlightCount(), 5);
});

test('past outboxMax the oldest are dropped and the count is persisted', async () => {
  const dir = tmp();
  const o = new Outbox({ stateDir: dir, max: 3 });
  o.start();
  for (let i = 0; i < 5; i++) await add(o);
  assert.equal(o.depth(), 3);
  assert.equal(o.dropped(), 2);
  const again = new Outbox({ stateDir: dir, max: 3 });
  again.start();
  assert.equal(again.dropped(), 2);
  assert.deepEqual(again.take(10).map((e) => e.seq), [3, 4, 5]);
});

test('half-written temp files from a crash are removed at start; a damaged entry is moved aside, counted as dropped', async () => {
  const dir = tmp();
  const o = new Outbox({ stateDir: dir, max: 10 });
  o.start();
  await add(o);
  fs.writeFileSync(path.join(dir, 'outbox', '.000000000002.json.999.1.tmp'), '{"seq":2,"lab');
  fs.writeFileSync(path.join(dir, '.events-state.json.999.1.tmp'), '{"nex');
  fs.writeFileSync(path.join(dir, 'outbox', '000000000007.json'), '');
  const b = new Outbox({ stateDir: dir, max: 10 });
  b.start();
  assert.deepEqual(fs.readdirSync(path.join(dir, 'outbox')).sort(), ['000000000001.json', '000000000007.json.damaged']);
  assert.ok(!fs.readdirSync(dir).some((n) => n.endsWith('.tmp')));
  assert.equal(b.depth(), 1);
  assert.equal(b.dropped(), 1);
  // The counter moved past the highest seq ever seen on disk, so 7 is never reused.
  assert.equal(await add(b), 8);
});
