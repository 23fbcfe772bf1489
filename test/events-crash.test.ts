/**
 * The sink in a child process that the test SIGKILLs: the broker sends the last will, and events the
 * child made durable are still in the outbox for the next start.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { MqttEventSink } from '../src/events/mqtt-sink.js';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { startSinkChild } from './helpers/sink-child.js';

const brokers: Mosquitto[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const b of brokers) await b.dispose();
});

function startChild(url: string, stateDir: string) {
  const c = startSinkChild({ url, stateDir });
  children.push(c.child);
  return c;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

test('SIGKILLed sink: the broker publishes the last will (offline, retained)', { timeout: 40_000 }, async () => {
  const b = new Mosquitto();
  brokers.push(b);
  await b.start();
  const sub = await b.client();
  const avail: string[] = [];
  sub.on('message', (t, p) => t.endsWith('/availability') && avail.push(p.toString()));
  await sub.subscribeAsync('maskwatch/door1/availability', { qos: 1 });
  const { child, out, stderr } = startChild(b.url, fs.mkdtempSync(path.join(os.tmpdir(), 'mw-crash-')));
  await waitFor(`child connects (${stderr()})`, () => out.includes('connected') && avail.includes('online'), 15_000);
  await kill9(child);
  await waitFor('last will', () => avail[avail.length - 1] === 'offline', 5000);
  await sub.endAsync();
});

test('sink SIGKILLed while the broker is down: a new sink on the same state dir delivers the whole outbox in order', { timeout: 40_000 }, async () => {
  const b = new Mosquitto();
  brokers.push(b);
  await b.start();
  await b.stop();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-crash-'));
  const { child, out, stderr } = startChild(b.url, stateDir);
  for (let i = 1; i <= 4; i++) {
    child.stdin!.write('event\n');
    await waitFor(`event ${i} stored (${stderr()})`, () => out.filter((l) => l === 'stored').length === i, 15_000);
  }
  await kill9(child);
  assert.deepEqual(fs.readdirSync(path.join(stateDir, 'outbox')).sort(), [1, 2, 3, 4].map((n) => `${String(n).padStart(12, '0')}.json`));
  await b.start();
  const sub = await b.client();
  const seqs: number[] = [];
  sub.on('message', (t, p) => t.endsWith('/event') && seqs.push(JSON.parse(p.toString()).seq));
  await sub.subscribeAsync('maskwatch/door1/event', { qos: 1 });
  const mqtt = loadConfig({ overrides: { 'mqtt.url': b.url }, env: {} }).config.mqtt;
  const sink = new MqttEventSink({ mqtt, deviceId: 'door1', stateDir, env: {}, reconnectInitialMs: 50, reconnectMaxMs: 200 });
  await sink.start();
  await waitFor('4 events', () => seqs.length >= 4, 5000);
  assert.deepEqual(seqs, [1, 2, 3, 4]);
  await waitFor('outbox empty', () => sink.outboxDepth() === 0);
  await sink.publishEvent({ decision: { trackId: 9, label: 'mask', score: 0.8, frames: 3, durationMs: 300, firstSeenAt: 0, decidedAt: 300 }, model: { name: 'm', sha256: 'x' }, source: 'test' });
  await waitFor('event 5', () => seqs.length >= 5);
  assert.equal(seqs[4], 5, 'seq continues after the crash');
  await sink.stop();
  assert.deepEqual(fs.readdirSync(path.join(stateDir, 'outbox')), []);
  await sub.endAsync();
});
