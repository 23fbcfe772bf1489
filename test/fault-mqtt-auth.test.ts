/**
 * A refused CONNACK (wrong password) is retried: the daemon keeps trying while the broker refuses it, and once the
 * broker is fixed (restarted with the right password file) the events that waited meanwhile arrive, in seq order,
 * without a gap. The password, given inside mqtt.url, never reaches the log.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { DaemonProcess, EventCollector, assertEveryEventOnce, daemonConfig, outboxSeqs } from './helpers/daemon-process.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-fault-auth-'));
const PASSWORD = 'R1ght-pass-in-url';
const WATCHER = { username: 'watcher', password: 'watch-pw' };
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Mosquitto logs one notice per refused CONNECT ("Client <unknown> disconnected, not authorised."); the watcher is never refused. */
const refusals = (broker: Mosquitto) => broker.log.split('\n').filter((l) => l.endsWith('disconnected, not authorised.')).length;

test('wrong password: the daemon keeps retrying; the broker fixed, the waiting events arrive in seq order, no gap', { timeout: 150_000 }, async () => {
  const refusing = new Mosquitto({ users: { door: 'the-old-password', [WATCHER.username]: WATCHER.password } });
  cleanups.push(() => refusing.dispose());
  await refusing.start();
  // A persistent session, carried over to the fixed broker in its persistence file: nothing the daemon sends is missed.
  const watcher = await refusing.client({ clientId: 'auth-watcher', clean: false, ...WATCHER });
  await watcher.subscribeAsync('maskwatch/auth-door/event', { qos: 1 });
  await watcher.endAsync();

  const url = `mqtt://door:${PASSWORD}@127.0.0.1:${refusing.port}`;
  const daemon = new DaemonProcess(tmp, 'auth-door', daemonConfig(tmp, 'auth-door', { url, keepaliveS: 5 }));
  cleanups.push(() => daemon.kill());
  const stateDir = path.join(tmp, 'auth-door');

  await waitFor('3 refused attempts and 2 events waiting in the outbox', () => refusals(refusing) >= 3 && outboxSeqs(stateDir).length >= 2, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}: saw ${refusals(refusing)} refused attempt(s), ${outboxSeqs(stateDir).length} waiting event(s)\n${daemon.output}\n--- broker\n${refusing.log}`);
  });
  assert.ok(daemon.running, daemon.output);
  assert.match(daemon.stderr, /WARN  \[mqtt\] broker mqtt:\/\/127\.0\.0\.1:\d+ unreachable \(.*[Nn]ot authori[sz]ed.*\); .*retrying/, daemon.output);

  // The password file fixed on the broker side: the same port, the same persisted sessions, the daemon's password.
  await refusing.stop();
  const fixed = new Mosquitto({ users: { door: PASSWORD, [WATCHER.username]: WATCHER.password } });
  cleanups.push(() => fixed.dispose());
  fixed.port = refusing.port;
  fs.copyFileSync(path.join(refusing.dir, 'mosquitto.db'), path.join(fixed.dir, 'mosquitto.db'));
  await fixed.start();
  const waitingAtFix = daemon.decided();

  const collector = new EventCollector(await fixed.client({ clientId: 'auth-watcher', clean: false, ...WATCHER }), 'maskwatch/auth-door/event');
  await waitFor(`the ${waitingAtFix} events that waited`, () => collector.unique().length >= waitingAtFix, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}: got ${collector.unique().length}\n${daemon.output}\n--- broker\n${fixed.log}`);
  });
  assert.ok(daemon.running, daemon.output);
  const exit = await daemon.stop();
  assert.equal(exit.code, 0, daemon.output);

  await assertEveryEventOnce(collector, daemon, stateDir);
  assert.ok(!daemon.stderr.includes(PASSWORD) && !daemon.stdout.includes(PASSWORD), 'the password never reaches the log');
});
