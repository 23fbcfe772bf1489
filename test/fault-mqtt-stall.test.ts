/**
 * A stalled link: a proxy between the daemon and the broker stops forwarding for longer than the keepalive while
 * keeping the sockets open, then resumes; then stalls again and closes. Every event the daemon accepted is
 * delivered exactly once by id, in seq order, without a gap, and the daemon stays up throughout.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { DaemonProcess, EventCollector, assertEveryEventOnce, daemonConfig } from './helpers/daemon-process.js';
import { StallProxy } from './helpers/tcp-proxy.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-fault-stall-'));
const broker = new Mosquitto();
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await broker.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const KEEPALIVE_S = 2;
const STALL_MS = 4 * KEEPALIVE_S * 1000;

test('the link stalls past the keepalive, then resumes, then stalls and closes: every event once by id, in seq order, daemon up', { timeout: 180_000 }, async (t) => {
  await broker.start();
  const proxy = new StallProxy(broker.port);
  await proxy.start();
  cleanups.push(() => proxy.stop());
  // The watcher talks to the broker directly, not through the proxy.
  const direct = await broker.client({ clientId: 'stall-watcher', clean: false });
  const events = new EventCollector(direct, 'maskwatch/stall-door/event');
  await direct.subscribeAsync('maskwatch/stall-door/event', { qos: 1 });

  const stateDir = path.join(tmp, 'stall-door');
  const daemon = new DaemonProcess(tmp, 'stall-door', daemonConfig(tmp, 'stall-door', { url: proxy.url, keepaliveS: KEEPALIVE_S }));
  cleanups.push(() => daemon.kill());
  await waitFor('a first event through the proxy', () => events.unique().length >= 1, 60_000);

  for (const end of ['resume', 'cut'] as const) {
    const decidedBefore = daemon.decided();
    proxy.stall();
    await sleep(STALL_MS);
    assert.ok(daemon.decided() > decidedBefore, `people were decided during the stall\n${daemon.output}`);
    if (end === 'resume') proxy.resume();
    else proxy.cut();
    const decided = daemon.decided();
    await waitFor(`the ${decided} events decided so far after the link ${end === 'resume' ? 'resumed' : 'was closed'}`, () => events.unique().length >= decided, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}: got ${events.unique().length}\n${daemon.output}`);
    });
    assert.ok(daemon.running, daemon.output);
  }
  assert.match(daemon.stderr, /\[mqtt\] connection to mqtt:\/\/127\.0\.0\.1:\d+ lost/, 'the stall was noticed');
  assert.ok(proxy.connections >= 2, `the daemon connected again (${proxy.connections} connections)`);

  const exit = await daemon.stop();
  assert.equal(exit.code, 0, daemon.output);
  const { delivered, left } = await assertEveryEventOnce(events, daemon, stateDir);
  // At least once on the wire: a copy re-sent after a lost PUBACK carries the same id and counts once.
  t.diagnostic(`${delivered} delivered, ${left} left in the outbox, ${events.duplicates()} duplicate copies, ${proxy.connections} connections`);
});
