/**
 * What a start finds on disk after outside damage: a corrupt events-state.json (or both copies), a
 * crash between an event file and the counters, and junk in the outbox folder. Never seq 1 again,
 * never a delivered seq reused, no silent reset, never a start that fails or hangs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setLogSink } from '../src/core/log.js';
import type { Label } from '../src/core/types.js';
import { Outbox } from '../src/events/outbox.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mw-outbox-state-'));
const add = (o: Outbox, label: Label = 'mask') => o.add((seq) => ({ payload: JSON.stringify({ seq, label }), label }));
const name = (seq: number) => `${String(seq).padStart(12, '0')}.json`;

/** Starts an Outbox on dir and returns it with the lines it logged while starting. */
function start(dir: string, max = 100): { o: Outbox; lines: string[] } {
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    const o = new Outbox({ stateDir: dir, max });
    o.start();
    return { o, lines };
  } finally {
    setLogSink(previous);
  }
}

/** Five events (2 mask, 3 no_mask), all delivered: the outbox folder is empty, seq 1..5 are used. */
async function delivered5(dir: string): Promise<void> {
  const { o } = start(dir);
  for (const label of ['mask', 'no_mask', 'no_mask', 'mask', 'no_mask'] as const) await add(o, label);
  for (const e of o.take(10)) o.ack(e.seq);
  await o.idle();
  assert.deepEqual(fs.readdirSync(path.join(dir, 'outbox')), []);
}

const CORRUPT: [string, (file: string) => void][] = [
  ['truncated', (f) => fs.writeFileSync(f, fs.readFileSync(f, 'utf8').slice(0, 9))],
  ['garbage bytes', (f) => fs.writeFileSync(f, Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0a]))],
  ['empty', (f) => fs.writeFileSync(f, '')],
  ['wrong types', (f) => fs.writeFileSync(f, JSON.stringify({ nextSeq: '6', dropped: -1, counts: { mask: 'two' } }))],
  ['null', (f) => fs.writeFileSync(f, 'null')],
  ['an array', (f) => fs.writeFileSync(f, '[6, 0]')],
  ['seq zero', (f) => fs.writeFileSync(f, JSON.stringify({ nextSeq: 0, dropped: 0, counts: { mask: 0, no_mask: 0, mask_incorrect: 0 } }))],
];

for (const [what, damage] of CORRUPT) {
  test(`events-state.json ${what}: seq goes on at 6 from the second copy, the counts are kept, one warning`, async () => {
    const dir = tmp();
    await delivered5(dir);
    damage(path.join(dir, 'events-state.json'));
    const { o, lines } = start(dir);
    assert.equal(await add(o), 6);
    assert.deepEqual(o.counts(), { mask: 3, no_mask: 3, mask_incorrect: 0 });
    assert.equal(lines.filter((l) => l.includes('WARN')).length, 1, lines.join('\n'));
    assert.match(lines.find((l) => l.includes('WARN'))!, /events-state\.json: .*resumed from the other copy \(seq continues at 6\)/);
    // Both copies are good again afterwards.
    const { o: third, lines: quiet } = start(dir);
    assert.equal(third.nextSeq(), 7);
    assert.deepEqual(quiet.filter((l) => l.includes('WARN')), []);
  });
}

test('events-state.json replaced by a folder: seq and counts come from the other copy, the folder stays, the daemon goes on', async () => {
  const dir = tmp();
  await delivered5(dir);
  const file = path.join(dir, 'events-state.json');
  fs.rmSync(file);
  fs.mkdirSync(file);
  fs.writeFileSync(path.join(file, 'notes.txt'), 'mine');
  const { o, lines } = start(dir);
  assert.equal(await add(o), 6);
  assert.deepEqual(o.counts(), { mask: 3, no_mask: 3, mask_incorrect: 0 });
  assert.equal(fs.readFileSync(path.join(file, 'notes.txt'), 'utf8'), 'mine');
  assert.ok(lines.some((l) => /events-state\.json: not a regular file: resumed from the other copy/.test(l)), lines.join('\n'));
  const again = start(dir).o;
  assert.equal(again.nextSeq(), 7);
});

test('both copies corrupt: seq goes on above every event in the outbox, and one warning says the counts start again', async () => {
  const dir = tmp();
  const { o } = start(dir);
  for (let i = 0; i < 4; i++) await add(o, i % 2 ? 'no_mask' : 'mask');
  for (const e of o.take(2)) o.ack(e.seq);
  await o.idle();
  for (const f of ['events-state.json', 'events-state.json.bak']) fs.writeFileSync(path.join(dir, f), JSON.stringify({ nextSeq: 'x', dropped: 0 }));
  const { o: again, lines } = start(dir);
  assert.deepEqual(again.take(10).map((e) => e.seq), [3, 4]);
  assert.equal(await add(again), 5);
  const warnings = lines.filter((l) => l.includes('WARN'));
  assert.equal(warnings.length, 1, lines.join('\n'));
  assert.match(warnings[0]!, /nextSeq is not a positive integer.*seq continues at 5 .*counts start again from the 2 event\(s\) in the outbox/);
  assert.deepEqual(again.counts(), { mask: 2, no_mask: 1, mask_incorrect: 0 });
});

test('both copies damaged and the outbox empty: seq goes on above any seq ever used, not at 1 again', async () => {
  const dir = tmp();
  const { o } = start(dir);
  for (let i = 0; i < 3; i++) await add(o);
  for (const e of o.take(3)) o.ack(e.seq);
  await o.idle();
  fs.writeFileSync(path.join(dir, 'events-state.json'), '{"nextSeq":3');
  fs.writeFileSync(path.join(dir, 'events-state.json.bak'), '');
  const before = Math.floor(Date.now() / 1000);
  const { o: again, lines } = start(dir);
  const seq = await add(again);
  assert.ok(seq >= before && seq <= Math.floor(Date.now() / 1000) + 1, `seq ${seq}`);
  const warnings = lines.filter((l) => l.includes('WARN'));
  assert.equal(warnings.length, 1, lines.join('\n'));
  assert.match(warnings[0]!, /seq continues at \d{10} \(the seconds since 1970: the last seq sent is not known, and none may be sent twice\)/);
  assert.equal(start(dir).o.nextSeq(), seq + 1, 'and the counter is kept from there');
});

test('a crash after the event file but before the counters: the next start counts the event and goes on above it', async () => {
  const dir = tmp();
  const { o } = start(dir);
  await add(o, 'mask');
  await add(o, 'no_mask');
  await o.idle();
  const state = fs.readFileSync(path.join(dir, 'events-state.json'));
  await add(o, 'mask_incorrect');
  await o.idle();
  // As if power went between writing 3's file and saving the counters.
  for (const f of ['events-state.json', 'events-state.json.bak']) fs.writeFileSync(path.join(dir, f), state);
  const { o: again, lines } = start(dir);
  assert.equal(again.nextSeq(), 4);
  assert.deepEqual(again.counts(), { mask: 1, no_mask: 1, mask_incorrect: 1 });
  assert.deepEqual(lines.filter((l) => l.includes('WARN')), []);
});

test('a folder, a FIFO, a symlink and junk in the outbox folder: the start neither fails nor hangs, nothing is deleted, one warning', async () => {
  const dir = tmp();
  const { o } = start(dir);
  for (let i = 0; i < 3; i++) await add(o);
  await o.idle();
  const box = path.join(dir, 'outbox');
  fs.mkdirSync(path.join(box, name(77)));
  fs.writeFileSync(path.join(box, name(77), 'photo.jpg'), 'user data');
  execFileSync('mkfifo', [path.join(box, name(78))]);
  fs.symlinkSync('/etc/hostname', path.join(box, name(79)));
  fs.writeFileSync(path.join(box, name(2)), '{"seq":2,"lab');
  fs.writeFileSync(path.join(box, 'notes\n2026-01-01 ERROR forged.txt'), 'mine');
  fs.mkdirSync(path.join(box, `.${name(80)}.1.2.tmp`));
  const { o: again, lines } = start(dir);
  assert.deepEqual(again.take(10).map((e) => e.seq), [1, 3]);
  assert.equal(again.dropped(), 1, 'the damaged event 2 is counted; the folder, FIFO and symlink never were events');
  assert.equal(await add(again), 4, 'no gap for names that never were events');
  const warnings = lines.filter((l) => l.includes('WARN'));
  assert.equal(warnings.length, 1, lines.join('\n'));
  assert.match(warnings[0]!, /moved 4 entry\(ies\) .* aside .*skipped 2 item\(s\)/);
  assert.ok(!warnings[0]!.includes('\n'), 'file names are quoted, a newline in one cannot start a forged line');
  assert.equal(fs.readFileSync(path.join(box, `${name(77)}.damaged`, 'photo.jpg'), 'utf8'), 'user data');
  assert.equal(fs.readFileSync(path.join(box, `${name(2)}.damaged`), 'utf8'), '{"seq":2,"lab');
  assert.ok(fs.lstatSync(path.join(box, `${name(79)}.damaged`)).isSymbolicLink());
  assert.ok(fs.existsSync(path.join(box, `.${name(80)}.1.2.tmp`)));
  // The next start finds the same junk again but nothing new to move.
  const { lines: later } = start(dir);
  assert.deepEqual(later.filter((l) => l.includes('WARN')).map((l) => /skipped 2 item/.test(l)), [true]);
});
