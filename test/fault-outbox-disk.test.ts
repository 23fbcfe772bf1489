/**
 * The sink as the daemon runs it (its own process), a real Mosquitto, and a state dir on a tmpfs of
 * our own that fills up or goes read-only under it. Every accepted event is delivered once, in seq
 * order, with no gap; what could not be stored is counted; the process stays up.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { startSinkChild, type SinkChild } from './helpers/sink-child.js';
import { Tmpfs } from './helpers/tmpfs.js';

const brokers: Mosquitto[] = [];
const children: SinkChild[] = [];
const mounts: Tmpfs[] = [];
after(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  for (const b of brokers) await b.dispose();
  for (const m of mounts) m.dispose();
});

async function broker(): Promise<Mosquitto> {
  const b = new Mosquitto();
  brokers.push(b);
  await b.start();
  return b;
}

function child(url: string, stateDir: string): SinkChild {
  const c = startSinkChild({ url, stateDir });
  children.push(c);
  return c;
}

/** A persistent-session subscriber to every topic of door1: it misses nothing across broker restarts. */
async function watch(b: Mosquitto, clientId: string) {
  const sub = await b.client({ clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
  const got: { topic: string; text: string }[] = [];
  sub.on('message', (topic, payload) => got.push({ topic, text: payload.toString() }));
  await sub.subscribeAsync('maskwatch/door1/+', { qos: 1 });
  // Delivery is at least once (a broker restart may hand the watcher a message twice): consumers dedupe by id, so do
  // we; a seq that ever came with two different ids would be a renumbered event, and fails here.
  const seqs = () => {
    const byId = new Map<string, number>();
    const idOfSeq = new Map<number, string>();
    for (const m of got.filter((x) => x.topic.endsWith('/event'))) {
      const e = JSON.parse(m.text) as { id: string; seq: number | null };
      if (e.seq === null) continue; // sent live, not stored: live() below
      assert.equal(idOfSeq.get(e.seq) ?? e.id, e.id, `seq ${e.seq} came with two ids`);
      idOfSeq.set(e.seq, e.id);
      if (!byId.has(e.id)) byId.set(e.id, e.seq);
    }
    return [...byId.values()];
  };
  /** Events that could not be stored and went out live, without a seq, by id. */
  const live = () => [...new Set(got.filter((x) => x.topic.endsWith('/event')).map((m) => JSON.parse(m.text) as { id: string; seq: number | null }).filter((e) => e.seq === null).map((e) => e.id))];
  return { sub, got, seqs, live };
}

/** Sends n `event` lines, one after the other, and returns the answers (`stored` / `rejected …`). */
async function events(c: SinkChild, n: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < n; i++) {
    const before = c.out.filter(isAnswer).length;
    c.send('event');
    await waitFor(`answer to event (${c.stderr()})`, () => c.out.filter(isAnswer).length > before, 10_000);
    answers.push(c.out.filter(isAnswer)[before]!);
  }
  return answers;
}
const isAnswer = (l: string) => l === 'stored' || l.startsWith('rejected ');

async function stats(c: SinkChild, got: { topic: string; text: string }[]) {
  const before = got.filter((m) => m.topic.endsWith('/stats')).length;
  c.send('stats');
  await waitFor('stats', () => got.filter((m) => m.topic.endsWith('/stats')).length > before);
  return JSON.parse(got.filter((m) => m.topic.endsWith('/stats'))[before]!.text);
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const outboxFiles = (stateDir: string) => fs.readdirSync(path.join(stateDir, 'outbox')).filter((n) => n.endsWith('.json'));

/** A tmpfs state dir, a broker, a watcher and a connected sink process that has delivered `first` events; the reason when no tmpfs can be mounted. */
async function setUp(sizeKb: number, watcherId: string, first: number) {
  const disk = Tmpfs.mount(sizeKb);
  if (typeof disk === 'string') return disk;
  mounts.push(disk);
  const stateDir = path.join(disk.dir, 'state');
  const b = await broker();
  const w = await watch(b, watcherId);
  const c = child(b.url, stateDir);
  await waitFor(`connected (${c.stderr()})`, () => c.out.includes('connected'), 15_000);
  assert.deepEqual(await events(c, first), Array(first).fill('stored'));
  await waitFor(`1..${first} delivered`, () => w.seqs().length >= first);
  await waitFor('outbox empty', () => outboxFiles(stateDir).length === 0);
  return { disk, stateDir, b, w, c };
}

test('state dir goes read-only at run time: PUBACKs do not crash the process, nothing is sent twice or lost, no seq gap', { timeout: 90_000 }, async (t) => {
  const run = await setUp(512, 'watch-ro', 3);
  if (typeof run === 'string') return t.skip(run);
  const { disk, stateDir, b, w, c } = run;

  // Broker away: three events wait on disk. Then the disk goes read-only and the broker comes back.
  await b.stop();
  assert.deepEqual(await events(c, 3), ['stored', 'stored', 'stored']);
  assert.equal(outboxFiles(stateDir).length, 3);
  disk.readOnly();
  const refused = await events(c, 2);
  assert.ok(refused.every((a) => /^rejected event not saved to the outbox .*read-only file system \(EROFS\); lost: the broker is not connected either$/.test(a)), refused.join('\n'));
  await b.start();
  await waitFor('4..6 delivered after the broker is back', () => w.seqs().length >= 6, 15_000);
  // Their PUBACKs came while the files could not be deleted: the process is still up and sends nothing again.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(c.child.exitCode, null, c.stderr());
  assert.deepEqual(w.seqs(), range(1, 6));
  assert.equal(c.stderr().split('\n').filter((l) => /cannot delete/.test(l)).length, 1, c.stderr());
  assert.equal(outboxFiles(stateDir).length, 3, 'the delivered files are still there (read-only)');
  const s1 = await stats(c, w.got);
  assert.deepEqual({ depth: s1.outboxDepth, dropped: s1.outboxDropped, notStored: s1.outboxNotStored }, { depth: 0, dropped: 0, notStored: 2 });

  // Writable again: the next event takes the next seq (the two refused ones used none) and the old files go.
  disk.writable();
  assert.deepEqual(await events(c, 1), ['stored']);
  await waitFor('7 delivered', () => w.seqs().length >= 7);
  assert.deepEqual(w.seqs(), range(1, 7));
  await waitFor('outbox empty again', () => outboxFiles(stateDir).length === 0);
  c.send('stop');
  await waitFor('child exits', () => c.child.exitCode !== null, 10_000);
  assert.equal(c.child.exitCode, 0, c.stderr());

  // A restart on the same state dir sends nothing again and goes on at 8.
  const c2 = child(b.url, stateDir);
  await waitFor(`connected again (${c2.stderr()})`, () => c2.out.includes('connected'), 15_000);
  assert.deepEqual(await events(c2, 1), ['stored']);
  await waitFor('8 delivered', () => w.seqs().length >= 8);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(w.seqs(), range(1, 8));
  const s2 = await stats(c2, w.got);
  assert.equal(s2.outboxNotStored, 2, 'the count of refused events survives the restart');
  c2.send('stop');
  await waitFor('child exits', () => c2.child.exitCode !== null, 10_000);
  await w.sub.endAsync();
});

test('disk full at run time: refused events go out live without a seq, uncounted; the rest arrive in order without a gap', { timeout: 60_000 }, async (t) => {
  const run = await setUp(256, 'watch-full', 2);
  if (typeof run === 'string') return t.skip(run);
  const { disk, w, c } = run;
  disk.fill();
  const refused = await events(c, 3);
  assert.ok(refused.every((a) => /no space left on device \(ENOSPC\); sent live without a seq$/.test(a)), refused.join('\n'));
  await waitFor('the 3 refused events, live', () => w.live().length >= 3);
  disk.unfill();
  assert.deepEqual(await events(c, 2), ['stored', 'stored']);
  await waitFor('4 events', () => w.seqs().length >= 4);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(w.seqs(), range(1, 4));
  const s = await stats(c, w.got);
  assert.deepEqual({ dropped: s.outboxDropped, notStored: s.outboxNotStored }, { dropped: 0, notStored: 3 });
  const counts = w.got.filter((m) => m.topic.endsWith('/counts')).map((m) => JSON.parse(m.text));
  assert.deepEqual(counts[counts.length - 1], { mask: 0, no_mask: 4, mask_incorrect: 0 });
  assert.equal(c.child.exitCode, null, c.stderr());
  c.send('stop');
  await waitFor('child exits', () => c.child.exitCode !== null, 10_000);
  assert.equal(c.child.exitCode, 0, c.stderr());
  await w.sub.endAsync();
});
