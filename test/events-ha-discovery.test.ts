/**
 * Home Assistant discovery against a real Mosquitto: every config message checked against Home Assistant's documented
 * schema for its component (test/helpers/ha-discovery-schema.ts), every value template rendered with real Jinja2
 * against what the daemon really publishes, the event entity fed by a decision, the mute switch following the command.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { loadConfig } from '../src/config/load.js';
import { ManualClock, systemClock } from '../src/core/clock.js';
import { PACKAGE_VERSION } from '../src/core/paths.js';
import type { DaemonStats } from '../src/core/seams.js';
import { LABELS, type Decision, type Label } from '../src/core/types.js';
import { Daemon } from '../src/daemon/daemon.js';
import { IouTracker } from '../src/decision/tracker.js';
import { MqttEventSink } from '../src/events/mqtt-sink.js';
import { Lights, lightsOptionsFromConfig } from '../src/signals/lights.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { FakeCamera } from './helpers/fake-camera.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { schemaProblems } from './helpers/ha-discovery-schema.js';
import { renderTemplates } from './helpers/ha-template.js';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { RecordingNotifier } from './helpers/recording-notifier.js';

const MODEL = { name: 'maskwatch-default', sha256: 'ab'.repeat(32) };
const brokers: Mosquitto[] = [];
const stops: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  for (const b of brokers) await b.dispose();
});

async function broker(): Promise<Mosquitto> {
  const b = new Mosquitto();
  brokers.push(b);
  await b.start();
  return b;
}

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mw-ha-'));
const mqttConfig = (url: string, extra: Record<string, unknown> = {}) => loadConfig({ overrides: { 'mqtt.url': url, ...extra }, env: {} }).config.mqtt;

function sink(url: string, extra: Record<string, unknown> = {}, deviceId = 'door1', clock?: ManualClock): MqttEventSink {
  const s = new MqttEventSink({ mqtt: mqttConfig(url, extra), deviceId, stateDir: tmpDir(), env: {}, reconnectInitialMs: 50, reconnectMaxMs: 200, modelName: MODEL.name, ...(clock ? { clock } : {}) });
  stops.push(() => s.stop());
  return s;
}

type Message = { topic: string; text: string; retain: boolean };
async function subscriber(b: Mosquitto, filter: string): Promise<{ client: MqttClient; got: Message[] }> {
  const client = await b.client({ protocolVersion: 5 });
  const got: Message[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, text: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, got };
}

/** The retained discovery configs a subscriber arriving now gets (empty retained messages are deletions, never sent). */
async function retainedConfigs(b: Mosquitto, prefix = 'homeassistant'): Promise<Map<string, Record<string, unknown>>> {
  const { client, got } = await subscriber(b, `${prefix}/#`);
  await new Promise((r) => setTimeout(r, 300));
  await client.endAsync();
  const configs = new Map<string, Record<string, unknown>>();
  for (const m of got) if (m.topic.endsWith('/config') && m.text) configs.set(m.topic, JSON.parse(m.text) as Record<string, unknown>);
  return configs;
}

const decision = (label: Label, trackId: number): Decision => ({ trackId, label, score: 0.9123, frames: 5, durationMs: 700, firstSeenAt: 0, decidedAt: 700 });
const STATS: DaemonStats = {
  framesInPerS: 15, framesProcessedPerS: 11.8, droppedFrames: 412, latencyP50Ms: 61.2, latencyP95Ms: 88.5, cpuTempC: 57.4,
  rssMb: 182.3, uptimeS: 86400, outboxDepth: 0, cameraState: 'streaming', cameraRestarts: 1,
};

const EXPECTED = [
  'event/person', 'sensor/light', 'sensor/people_in_view', 'sensor/count_mask', 'sensor/count_no_mask', 'sensor/count_mask_incorrect', 'sensor/camera',
  'switch/mute', 'button/lamp_test', 'button/reload_model',
  'sensor/fps_in', 'sensor/fps_processed', 'sensor/dropped_frames', 'sensor/latency_p50', 'sensor/latency_p95', 'sensor/outbox_depth',
  'sensor/cpu_temperature', 'sensor/memory', 'sensor/uptime',
];
const entityOf = (topic: string) => topic.split('/').filter((_, i, a) => i === 1 || i === a.length - 2).join('/');

test('the schema checker refuses what Home Assistant documents as invalid', () => {
  const t = 'homeassistant/sensor/maskwatch_door1/x/config';
  const ok = { state_topic: 'a/b', unique_id: 'u', device: { identifiers: ['d'] } };
  assert.deepEqual(schemaProblems(t, JSON.stringify(ok)), []);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [t, { unique_id: 'u' }, /required key state_topic missing/],
    [t, { ...ok, options: ['a'] }, /options need device_class enum/],
    [t, { ...ok, device_class: 'enum', options: ['a'], state_class: 'measurement' }, /options cannot be used with state_class/],
    [t, { ...ok, device_class: 'enum' }, /enum without options/],
    [t, { ...ok, device_class: 'temperature', unit_of_measurement: 'C' }, /needs a unit of °C, °F, K/],
    [t, { ...ok, device_class: 'fps' }, /device_class fps is not a sensor device class/],
    [t, { ...ok, entity_category: 'config' }, /entity_category config not allowed for sensor/],
    [t, { ...ok, platform: 'sensor' }, /platform is only for device discovery/],
    [t, { ...ok, stat_t: 'a/b', colour: 1 }, /key stat_t is not in the sensor schema/],
    [t, { ...ok, state_topic: 'a/+' }, /state_topic "a\/\+" is not a topic/],
    [t, { ...ok, device: { name: 'x' } }, /device needs identifiers or connections/],
    [t, { state_topic: 'a/b', device: { identifiers: ['d'] } }, /device needs unique_id/],
    [t, { ...ok, device: { identifiers: ['d'], configuration_url: 'ftp://x' } }, /configuration_url must be/],
    [t, { ...ok, availability: [{ topic: 'a' }], availability_topic: 'a' }, /must not be used together/],
    [t, { ...ok, origin: { sw_version: '1' } }, /origin.name is required/],
    ['homeassistant/event/n/x/config', { state_topic: 'a', event_types: [] }, /event_types must be a non-empty list/],
    ['homeassistant/button/n/x/config', { command_topic: 'a', retain: true }, /must not be retained/],
    ['homeassistant/switch/n/x/config', { state_topic: 'a' }, /required key command_topic missing/],
    ['homeassistant/sensor/door 1/x/config', ok, /outside \[a-zA-Z0-9_-\]/],
  ];
  for (const [topic, config, expected] of cases) assert.match(schemaProblems(topic, JSON.stringify(config)).join('\n'), expected, JSON.stringify(config));
});

test('discovery: every config valid per Home Assistant’s schema; event, light, mute switch and diagnostics there; the retired last_label gone', { timeout: 30_000 }, async () => {
  const b = await broker();
  // What an earlier version left retained: it must go.
  const old = await b.client();
  await old.publishAsync('homeassistant/sensor/maskwatch_door1/last_label/config', JSON.stringify({ name: 'Last label', state_topic: 'maskwatch/door1/state' }), { qos: 1, retain: true });
  await old.endAsync();
  const live = await subscriber(b, 'homeassistant/+/+/+/config');
  const s = sink(b.url);
  await s.start();
  await waitFor('every config', () => EXPECTED.every((e) => live.got.some((m) => entityOf(m.topic) === e && m.text)));

  const configs = await retainedConfigs(b);
  assert.deepEqual([...configs.keys()].map(entityOf).sort(), [...EXPECTED].sort());
  for (const [topic, c] of configs) assert.deepEqual(schemaProblems(topic, JSON.stringify(c)), [], topic);
  assert.ok(live.got.some((m) => m.topic.endsWith('/last_label/config') && m.text === ''), 'the retired entity is cleared');

  const all = [...configs.values()];
  assert.equal(new Set(all.map((c) => c.unique_id)).size, all.length, 'unique_ids are unique');
  for (const c of all) {
    assert.deepEqual(c.device, { identifiers: ['maskwatch_door1'], name: 'maskwatch door1', manufacturer: 'maskwatch', model: 'maskwatch (maskwatch-default)', sw_version: PACKAGE_VERSION });
    assert.deepEqual(c.origin, { name: 'maskwatch', sw_version: PACKAGE_VERSION });
    assert.match(String(c.unique_id), /^maskwatch_door1_/);
  }
  const get = (e: string) => [...configs].find(([t]) => entityOf(t) === e)![1];
  assert.deepEqual(get('event/person').event_types, [...LABELS]);
  assert.deepEqual(get('sensor/light').options, ['green', 'red', 'amber', 'off']);
  assert.deepEqual([get('sensor/cpu_temperature').device_class, get('sensor/cpu_temperature').unit_of_measurement], ['temperature', '°C']);
  for (const e of EXPECTED.slice(10)) assert.equal(get(e).entity_category, 'diagnostic', e);
  assert.equal(get('switch/mute').command_topic, 'maskwatch/door1/cmd/mute');
});

test('each entity reads what the daemon publishes (value templates rendered by Jinja2 against the real messages)', { timeout: 30_000 }, async () => {
  const b = await broker();
  const data = await subscriber(b, 'maskwatch/door1/#');
  const s = sink(b.url);
  await s.start();
  await waitFor('connected', () => s.connected);
  s.publishState({ light: 'red', label: 'no_mask', peopleInView: 2 });
  s.publishCameraState('retrying', 'ffmpeg exited with code 1');
  s.publishMute({ muted: true, until: new Date(Date.UTC(2026, 0, 1, 12)) });
  await s.publishEvent({ decision: decision('no_mask', 17), model: MODEL, source: 'v4l2:/dev/video0' });
  s.publishStats(STATS);
  const topics = ['state', 'camera', 'mute', 'event', 'counts', 'stats'].map((n) => `maskwatch/door1/${n}`);
  await waitFor('a message on each state topic', () => topics.every((t) => data.got.some((m) => m.topic === t)));
  const latest = (topic: string) => data.got.filter((m) => m.topic === topic).at(-1)!.text;

  const configs = [...(await retainedConfigs(b)).values()].filter((c) => typeof c.state_topic === 'string');
  const templated = configs.filter((c) => c.value_template);
  const rendered = renderTemplates(templated.map((c) => ({ template: c.value_template as string, payload: latest(c.state_topic as string) })));
  const value = new Map(templated.map((c, i) => [c.unique_id, rendered[i]!]));
  for (const c of configs) {
    const v = value.get(c.unique_id);
    const id = String(c.unique_id);
    if (Array.isArray(c.options)) assert.ok(c.options.includes(v), `${id}: ${v} is one of its options`);
    else if (c.state_class || c.device_class) assert.ok(Number.isFinite(Number(v)) && v !== '', `${id}: ${v} is a number`);
    else if (c.state_on) assert.ok(v === c.state_on || v === c.state_off, `${id}: ${v} is state_on or state_off`);
  }
  const byId = (suffix: string) => value.get(`maskwatch_door1_${suffix}`);
  assert.deepEqual(
    ['light', 'people_in_view', 'count_no_mask', 'count_mask', 'camera', 'mute', 'cpu_temperature', 'memory', 'latency_p95', 'dropped_frames'].map(byId),
    ['red', '2', '1', '0', 'retrying', 'ON', '57.4', '182.3', '88.5', '412'],
  );
  // No CPU temperature (null) renders None, which Home Assistant's MQTT sensor takes as unknown.
  s.publishStats({ ...STATS, cpuTempC: null });
  await waitFor('stats without a temperature', () => latest('maskwatch/door1/stats').includes('"cpuTempC":null'));
  const temp = configs.find((c) => c.unique_id === 'maskwatch_door1_cpu_temperature')!;
  assert.deepEqual(renderTemplates([{ template: temp.value_template as string, payload: latest('maskwatch/door1/stats') }]), ['None']);
});

test('the event entity: each decision arrives with event_type = its label, one of event_types, and score, track id and source as attributes', { timeout: 30_000 }, async () => {
  const b = await broker();
  const s = sink(b.url);
  const events = await subscriber(b, 'maskwatch/door1/event');
  await s.start();
  const config = (await (async () => {
    await waitFor('connected', () => s.connected);
    return retainedConfigs(b);
  })()).get('homeassistant/event/maskwatch_door1/person/config')!;
  assert.equal(config.state_topic, 'maskwatch/door1/event');
  for (const [i, label] of [...LABELS, 'mask' as Label].entries()) await s.publishEvent({ decision: decision(label, 40 + i), model: MODEL, source: 'demo' });
  await waitFor('four events', () => events.got.length >= 4);
  // Home Assistant's MQTT event: a JSON object whose event_type is in event_types; the other keys become attributes.
  const received = events.got.slice(0, 4).map((m) => {
    assert.equal(m.retain, false, 'replayed retained events would be discarded by Home Assistant');
    const { event_type, ...attributes } = JSON.parse(m.text) as Record<string, unknown>;
    assert.ok((config.event_types as string[]).includes(event_type as string));
    return { event_type, trackId: attributes.trackId, score: attributes.score, source: attributes.source, label: attributes.label, seq: attributes.seq };
  });
  assert.deepEqual(received, [
    { event_type: 'mask', trackId: 40, score: 0.912, source: 'demo', label: 'mask', seq: 1 },
    { event_type: 'no_mask', trackId: 41, score: 0.912, source: 'demo', label: 'no_mask', seq: 2 },
    { event_type: 'mask_incorrect', trackId: 42, score: 0.912, source: 'demo', label: 'mask_incorrect', seq: 3 },
    { event_type: 'mask', trackId: 43, score: 0.912, source: 'demo', label: 'mask', seq: 4 },
  ]);
});

test('the mute switch follows the command: Home Assistant’s payload_on mutes, the mute runs out, payload_off un-mutes; state retained', { timeout: 60_000 }, async () => {
  const b = await broker();
  const { config } = loadConfig({ overrides: { deviceId: 'door1', 'mqtt.url': b.url, 'signals.lampTest': false, 'mqtt.statsIntervalS': 0 }, env: {} });
  const clock = new ManualClock();
  const s = new MqttEventSink({ mqtt: config.mqtt, deviceId: 'door1', stateDir: tmpDir(), clock: systemClock, env: {}, reconnectInitialMs: 50 });
  const daemon = new Daemon({
    source: new FakeCamera(clock),
    detector: await createFaceDetector(config.detector),
    classifier: await createMaskClassifier({ modelDir: 'models/maskwatch-default', precision: 'float' }),
    loadClassifier: () => Promise.reject(new Error('not used')),
    tracker: new IouTracker(config.tracker),
    signals: new Lights(new FakeGpio(clock), lightsOptionsFromConfig(config.signals), clock),
    sink: s,
    notifier: new RecordingNotifier(),
    clock,
    holdMs: config.signals.holdMs,
    statsIntervalMs: 0,
    watchdog: false,
  });
  stops.push(() => daemon.stop());
  // A mute retained by an earlier run: the daemon starts unmuted and says so.
  const old = await b.client();
  await old.publishAsync('maskwatch/door1/mute', JSON.stringify({ muted: true, until: '2020-01-01T00:00:00.000Z', ts: '2020-01-01T00:00:00.000Z' }), { retain: true });
  const watch = await subscriber(b, 'maskwatch/door1/mute');
  await waitFor('the old retained mute', () => watch.got.length === 1);
  await daemon.start();
  await waitFor('connected', () => s.connected);
  const sw = (await retainedConfigs(b)).get('homeassistant/switch/maskwatch_door1/mute/config')!;
  const shown = () => renderTemplates([{ template: sw.value_template as string, payload: watch.got.at(-1)!.text }])[0];
  const results = await subscriber(b, 'maskwatch/door1/cmd/mute/result');
  const press = async (payload: string, count: number) => {
    await old.publishAsync(sw.command_topic as string, payload, { qos: (sw.qos as 0 | 1 | undefined) ?? 0, retain: sw.retain === true });
    await waitFor(`mute state message ${count}`, () => watch.got.length >= count);
  };
  await waitFor('unmuted at start', () => watch.got.length >= 2);
  assert.equal(shown(), sw.state_off);

  await press(sw.payload_on as string, 3);
  const muted = JSON.parse(watch.got.at(-1)!.text) as { muted: boolean; until: string };
  assert.equal(shown(), sw.state_on);
  assert.equal(Date.parse(muted.until) - clock.date().getTime(), 15 * 60_000, 'payload_on is the command’s default 15 minutes');
  await waitFor('command result', () => results.got.length === 1);
  assert.match(results.got[0]!.text, /"ok":true.*muted for 900 s/);

  clock.advance(15 * 60_000);
  await waitFor('the mute ran out', () => watch.got.length >= 4);
  assert.equal(shown(), sw.state_off);

  await press(sw.payload_on as string, 5);
  assert.equal(shown(), sw.state_on);
  await press(sw.payload_off as string, 6);
  assert.equal(shown(), sw.state_off);
  clock.advance(15 * 60_000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(watch.got.length, 6, 'an un-mute cancels the pending run-out');

  const late = await subscriber(b, 'maskwatch/door1/mute');
  await waitFor('retained mute state', () => late.got.length === 1);
  assert.deepEqual([late.got[0]!.retain, JSON.parse(late.got[0]!.text).muted], [true, false]);
  await old.endAsync();
});

test('sent again when Home Assistant announces a restart, at most once per 10 s; stats off drops the diagnostics; discovery off removes every entity', { timeout: 30_000 }, async () => {
  const b = await broker();
  const live = await subscriber(b, 'homeassistant/+/+/+/config');
  const clock = new ManualClock();
  const s = sink(b.url, {}, 'door1', clock);
  await s.start();
  await waitFor('configs', () => live.got.filter((m) => m.text).length >= EXPECTED.length);
  const first = live.got.length;
  await live.client.publishAsync('homeassistant/status', 'online');
  await waitFor('configs again after the HA birth message', () => live.got.length >= 2 * first);
  // A flood of birth messages (anyone allowed to publish there can send them) is answered once, when the window ends.
  for (let i = 0; i < 20; i++) await live.client.publishAsync('homeassistant/status', 'online');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(live.got.length, 2 * first, 'nothing more inside the 10 s window');
  clock.advance(10_000);
  await waitFor('one more announce at the end of the window', () => live.got.length >= 3 * first);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(live.got.length, 3 * first, 'twenty birth messages made one announce');
  await s.stop();

  const noStats = sink(b.url, { 'mqtt.statsIntervalS': 0 });
  await noStats.start();
  await waitFor('connected', () => noStats.connected);
  await noStats.stop();
  const left = [...(await retainedConfigs(b)).keys()].map(entityOf);
  assert.deepEqual(left.sort(), EXPECTED.slice(0, 10).sort(), 'no diagnostic sensors without the stats topic');

  const off = sink(b.url, { 'mqtt.homeAssistant': false });
  await off.start();
  await waitFor('connected', () => off.connected);
  await off.stop();
  assert.equal((await retainedConfigs(b)).size, 0, 'no retained discovery left');
});
