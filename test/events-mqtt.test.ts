import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { loadConfig } from '../src/config/load.js';
import { setLogSink } from '../src/core/log.js';
import type { CommandName } from '../src/core/seams.js';
import type { Decision, Label } from '../src/core/types.js';
import { MqttEventSink, type MqttSinkOptions } from '../src/events/mqtt-sink.js';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';

const MODEL = { name: 'test-model', sha256: 'ab'.repeat(32) };
const brokers: Mosquitto[] = [];
const sinks: MqttEventSink[] = [];
after(async () => {
  for (const s of sinks) await s.stop().catch(() => undefined);
  for (const b of brokers) await b.dispose();
});

async function broker(opts?: ConstructorParameters<typeof Mosquitto>[0]): Promise<Mosquitto> {
  const b = new Mosquitto(opts);
  brokers.push(b);
  await b.start();
  return b;
}

function mqttConfig(url: string, overrides: Record<string, unknown> = {}) {
  const o: Record<string, unknown> = { 'mqtt.url': url };
  for (const [k, v] of Object.entries(overrides)) o[`mqtt.${k}`] = v;
  return loadConfig({ overrides: o, env: {} }).config.mqtt;
}

function sink(url: string, overrides: Record<string, unknown> = {}, extra: Partial<MqttSinkOptions> = {}, stateDir = tmpDir()): MqttEventSink {
  const s = new MqttEventSink({ mqtt: mqttConfig(url, overrides), deviceId: 'door1', stateDir, env: {}, reconnectInitialMs: 50, reconnectMaxMs: 200, ...extra });
  sinks.push(s);
  return s;
}

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mw-sink-'));
const decision = (label: Label = 'no_mask', trackId = 1): Decision => ({ trackId, label, score: 0.9123, frames: 5, durationMs: 700, firstSeenAt: 0, decidedAt: 700 });

/** Collects messages of a subscriber by topic. */
function collect(c: MqttClient) {
  const got: { topic: string; text: string; qos: number; retain: boolean }[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, text: payload.toString(), qos: packet.qos, retain: packet.retain }));
  return got;
}
const eventsOf = (got: ReturnType<typeof collect>) => got.filter((m) => m.topic === 'maskwatch/door1/event').map((m) => JSON.parse(m.text));

/** First-arrival order of seqs (QoS 1 is at least once; consumers dedupe by id). */
function uniqueSeqs(events: { seq: number }[]): number[] {
  const seen = new Set<number>();
  return events.filter((e) => !seen.has(e.seq) && seen.add(e.seq)).map((e) => e.seq);
}
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('events arrive with QoS 1 and consecutive seq; availability is online, then offline after a clean stop', { timeout: 30_000 }, async () => {
  const b = await broker();
  const sub = await b.client();
  const got = collect(sub);
  await sub.subscribeAsync('maskwatch/door1/#', { qos: 1 });
  const s = sink(b.url);
  await s.start();
  await waitFor('online', () => got.some((m) => m.topic === 'maskwatch/door1/availability' && m.text === 'online'));
  for (const label of ['mask', 'no_mask', 'mask_incorrect'] as const) await s.publishEvent({ decision: decision(label), model: MODEL, source: 'test' });
  await waitFor('3 events', () => eventsOf(got).length >= 3);
  const events = eventsOf(got);
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3]);
  assert.deepEqual(events.map((e) => e.label), ['mask', 'no_mask', 'mask_incorrect']);
  assert.ok(got.filter((m) => m.topic.endsWith('/event')).every((m) => m.qos === 1 && !m.retain));
  const e = events[0];
  assert.match(e.id, /^[0-9a-f-]{36}$/);
  assert.equal(new Date(e.ts).toISOString(), e.ts);
  assert.deepEqual({ device: e.device, score: e.score, frames: e.frames, durationMs: e.durationMs, model: e.model }, { device: 'door1', score: 0.912, frames: 5, durationMs: 700, model: MODEL });
  s.publishPerson({ trackId: 4, label: null, frames: 9, durationMs: 700.4, unsure: { label: 'mask_incorrect', score: 0.48123 }, at: 0, source: 'test' });
  s.publishPerson({ trackId: 5, label: null, frames: 1, durationMs: 0, at: 0, source: 'test' });
  await waitFor('2 left', () => got.filter((m) => m.topic.endsWith('/person')).length >= 2);
  const [unsure, blip] = got.filter((m) => m.topic.endsWith('/person')).map((m) => JSON.parse(m.text));
  assert.deepEqual([unsure.type, unsure.label, unsure.durationMs, unsure.unsure], ['left', null, 700, { label: 'mask_incorrect', score: 0.481 }]);
  assert.equal('unsure' in blip, false, 'a track too short to decide carries no best guess');
  s.publishState({ light: 'red', label: 'no_mask', peopleInView: 2 });
  await waitFor('counts', () => got.some((m) => m.topic.endsWith('/counts') && JSON.parse(m.text).mask_incorrect === 1));
  await waitFor('outbox empty', () => s.outboxDepth() === 0);
  await s.stop();
  await waitFor('offline', () => got.some((m) => m.topic === 'maskwatch/door1/availability' && m.text === 'offline'));
  // Retained: a newcomer sees offline and the last state.
  const late = await b.client();
  const lateGot = collect(late);
  await late.subscribeAsync('maskwatch/door1/+', { qos: 1 });
  await waitFor('retained', () => lateGot.length >= 3);
  const retained = Object.fromEntries(lateGot.filter((m) => m.retain).map((m) => [m.topic.split('/').pop(), m.text]));
  assert.equal(retained.availability, 'offline');
  assert.deepEqual(JSON.parse(retained.state), { light: 'red', label: 'no_mask', peopleInView: 2 });
  assert.deepEqual(JSON.parse(retained.counts), { mask: 1, no_mask: 1, mask_incorrect: 1 });
  await sub.endAsync();
  await late.endAsync();
});

test('broker killed and restarted mid-run: every event arrives afterwards, in order, without gaps', { timeout: 30_000 }, async () => {
  const b = await broker();
  // A persistent session, so the subscriber misses nothing while it reconnects itself.
  const sub = await b.client({ clientId: 'watcher', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
  const got = collect(sub);
  await sub.subscribeAsync('maskwatch/door1/event', { qos: 1 });
  const s = sink(b.url);
  await s.start();
  await waitFor('connected', () => s.connected);
  for (let i = 0; i < 5; i++) await s.publishEvent({ decision: decision('mask', i), model: MODEL, source: 'test' });
  const stopping = b.stop();
  for (let i = 5; i < 10; i++) await s.publishEvent({ decision: decision('no_mask', i), model: MODEL, source: 'test' });
  await stopping;
  await waitFor('sink notices', () => !s.connected);
  for (let i = 10; i < 15; i++) await s.publishEvent({ decision: decision('no_mask', i), model: MODEL, source: 'test' });
  assert.ok(s.outboxDepth() >= 5, `outbox holds the events while the broker is down (${s.outboxDepth()})`);
  await b.start();
  for (let i = 15; i < 20; i++) await s.publishEvent({ decision: decision('mask', i), model: MODEL, source: 'test' });
  await waitFor('20 events', () => uniqueSeqs(eventsOf(got)).length >= 20, 10_000);
  assert.deepEqual(uniqueSeqs(eventsOf(got)), range(1, 20));
  await waitFor('outbox drained', () => s.outboxDepth() === 0);
  await s.stop();
  await sub.endAsync();
});

test('outbox bound: with the broker away at start, ONE log line, the oldest are dropped and counted, the rest delivered in order', { timeout: 30_000 }, async () => {
  // The watcher's persistent session is made first, so the broker queues events for it from its first second back.
  const b = await broker();
  const sub = await b.client({ clientId: 'bound-watcher', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
  const got = collect(sub);
  await sub.subscribeAsync('maskwatch/door1/#', { qos: 1 });
  await b.stop();
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  const dir = tmpDir();
  const s = sink(b.url, { outboxMax: 3 }, {}, dir);
  try {
    await s.start();
    for (let i = 0; i < 5; i++) await s.publishEvent({ decision: decision('mask', i), model: MODEL, source: 'test' });
    await new Promise((r) => setTimeout(r, 600));
  } finally {
    setLogSink(previous);
  }
  assert.equal(lines.filter((l) => /unreachable.*outbox/.test(l)).length, 1, lines.join('\n'));
  assert.ok(lines.filter((l) => l.includes('[mqtt]')).length <= 2, `one line per retry? ${lines.join('\n')}`);
  assert.equal(s.outboxDepth(), 3);
  assert.equal(s.outboxDropped(), 2);
  assert.equal(fs.readdirSync(path.join(dir, 'outbox')).length, 3);
  await b.start();
  await waitFor('3 events', () => uniqueSeqs(eventsOf(got)).length >= 3, 10_000);
  assert.deepEqual(uniqueSeqs(eventsOf(got)), [3, 4, 5]);
  await waitFor('watcher back', () => sub.connected);
  s.publishStats({ framesInPerS: 15, framesProcessedPerS: 14, droppedFrames: 1, latencyP50Ms: 40, latencyP95Ms: 60, cpuTempC: null, rssMb: 100, uptimeS: 5, outboxDepth: 0, cameraState: 'streaming', cameraRestarts: 0 });
  await waitFor('stats', () => got.some((m) => m.topic.endsWith('/stats')));
  const stats = JSON.parse(got.find((m) => m.topic.endsWith('/stats'))!.text);
  assert.equal(stats.outboxDropped, 2);
  assert.equal(stats.framesInPerS, 15);
  await s.stop();
  await sub.endAsync();
});

test('commands: known ones reach the handler and get its reply; unknown or malformed ones get an error and change nothing', { timeout: 30_000 }, async () => {
  const b = await broker();
  const s = sink(b.url);
  const calls: [CommandName, Record<string, unknown>][] = [];
  s.onCommand(async (name, payload) => {
    calls.push([name, payload]);
    return { ok: true, message: `did ${name}` };
  });
  await s.start();
  await waitFor('connected', () => s.connected);
  const cli = await b.client();
  const got = collect(cli);
  await cli.subscribeAsync('maskwatch/door1/cmd/+/result', { qos: 1 });
  // The sink subscribes to cmd/+ before it publishes discovery, and the broker handles a connection's
  // packets in order: once the last discovery config is there, so is the subscription.
  await cli.subscribeAsync('homeassistant/button/maskwatch_door1/reload_model/config', { qos: 1 });
  await waitFor('discovery', () => got.some((m) => m.topic.endsWith('/reload_model/config')));
  const send = async (name: string, body: string) => {
    const before = got.length;
    await cli.publishAsync(`maskwatch/door1/cmd/${name}`, body, { qos: 1 });
    await waitFor(`reply to ${name} ${body}`, () => got.length > before, 10_000);
    return { topic: got[got.length - 1]!.topic, reply: JSON.parse(got[got.length - 1]!.text) };
  };
  assert.deepEqual(await send('mute', '{"minutes": 5, "id": "r1"}'), { topic: 'maskwatch/door1/cmd/mute/result', reply: { ok: true, message: 'did mute', id: 'r1' } });
  assert.deepEqual((await send('lamp-test', '{}')).reply, { ok: true, message: 'did lamp-test' });
  assert.deepEqual(calls, [['mute', { minutes: 5 }], ['lamp-test', {}]]);
  const bad = [
    ['self-destruct', '{"id": 7}'],
    ['mute', 'not json'],
    ['mute', '[1,2]'],
    ['mute', '{"minutes": "five"}'],
    ['mute', '{"minutes": -1}'],
    ['reload-model', '{"path": "/etc/passwd"}'],
  ];
  for (const [name, body] of bad) {
    const { topic, reply } = await send(name!, body!);
    assert.equal(topic, `maskwatch/door1/cmd/${name}/result`);
    assert.equal(reply.ok, false, `${name} ${body}`);
    assert.ok(reply.message.length > 5);
  }
  assert.equal((await send('self-destruct', '{"id": 7}')).reply.id, 7);
  assert.equal(calls.length, 2, 'no handler call for bad commands');
  await s.stop();
  await cli.endAsync();
});

test('MQTT 3.1.1: clearing a retained command while connected (an empty message, its retain flag hidden) runs nothing', { timeout: 30_000 }, async () => {
  const b = await broker();
  const s = sink(b.url, { protocolVersion: 4 });
  const calls: CommandName[] = [];
  s.onCommand(async (name) => {
    calls.push(name);
    return { ok: true, message: `did ${name}` };
  });
  await s.start();
  await waitFor('connected', () => s.connected);
  const cli = await b.client({ protocolVersion: 4 });
  const got = collect(cli);
  await cli.subscribeAsync(['maskwatch/door1/cmd/+/result', 'homeassistant/button/maskwatch_door1/reload_model/config'], { qos: 1 });
  await waitFor('discovery', () => got.some((m) => m.topic.endsWith('/reload_model/config')));
  await cli.publishAsync('maskwatch/door1/cmd/mute', '', { qos: 1, retain: true });
  await cli.publishAsync('maskwatch/door1/cmd/lamp-test', '', { qos: 1, retain: true });
  await cli.publishAsync('maskwatch/door1/cmd/reload-model', '{"id": "live"}', { qos: 1 });
  await waitFor('the reply to the live command', () => got.some((m) => m.topic.endsWith('/reload-model/result')));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(calls, ['reload-model'], 'the empty messages ran nothing');
  assert.deepEqual(got.filter((m) => m.topic.endsWith('/result')).map((m) => m.topic), ['maskwatch/door1/cmd/reload-model/result']);
  await s.stop();
  await cli.endAsync();
});

test('the password never appears in logged lines (password file, URL credentials, refused login)', { timeout: 30_000 }, async () => {
  const secret = 'Sup3r-s3cret-pw';
  const b = await broker({ users: { maskwatch: secret } });
  const pwFile = path.join(tmpDir(), 'pw');
  fs.writeFileSync(pwFile, `${secret}\n`);
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    const good = sink(b.url, { username: 'maskwatch', passwordFile: pwFile });
    await good.start();
    await waitFor('login with password file', () => good.connected);
    await good.stop();
    const viaUrl = sink(`mqtt://maskwatch:${secret}@127.0.0.1:${b.port}`);
    await viaUrl.start();
    await waitFor('login with URL credentials', () => viaUrl.connected);
    await viaUrl.stop();
    const refused = sink(b.url, { username: 'maskwatch', password: `${secret}-wrong` });
    await refused.start();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(refused.connected, false);
    await refused.stop();
  } finally {
    setLogSink(previous);
  }
  assert.ok(lines.some((l) => l.includes(`connected to mqtt://127.0.0.1:${b.port}`)), lines.join('\n'));
  assert.ok(lines.some((l) => /not authori[sz]ed/i.test(l)), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes(secret) || l.includes('s3cret')), lines.join('\n'));
});

// Home Assistant discovery: test/events-ha-discovery.test.ts.

test('MQTT 3.1.1 works too', { timeout: 30_000 }, async () => {
  const b = await broker();
  const sub = await b.client({ protocolVersion: 4 });
  const got = collect(sub);
  await sub.subscribeAsync('maskwatch/door1/#', { qos: 1 });
  const s = sink(b.url, { protocolVersion: 4 });
  await s.start();
  await s.publishEvent({ decision: decision('mask'), model: MODEL, source: 'test' });
  await waitFor('event', () => eventsOf(got).length === 1);
  assert.equal(eventsOf(got)[0].seq, 1);
  await s.stop();
  await waitFor('offline', () => got.some((m) => m.topic.endsWith('/availability') && m.text === 'offline'));
  await sub.endAsync();
});
