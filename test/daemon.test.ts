/**
 * The Daemon in process: a fake camera (the test hands it real JPEG frames of the demo faces) and fake GPIO lines,
 * with everything between them real — decoder, detector, classifier, tracker, door state, Lights, a real Mosquitto.
 * The clock is manual, so hold times and track losses happen when the test says.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { ManualClock, systemClock } from '../src/core/clock.js';
import { setLogSink } from '../src/core/log.js';
import type { DaemonState, MaskClassifier } from '../src/core/seams.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon/daemon.js';
import { IouTracker } from '../src/decision/tracker.js';
import { MqttEventSink } from '../src/events/mqtt-sink.js';
import { Lights, lightsOptionsFromConfig } from '../src/signals/lights.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { FakeCamera } from './helpers/fake-camera.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { onePersonClip } from './helpers/person-clip.js';
import { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE } from '../src/source/demo-clip.js';
import { RecordingNotifier } from './helpers/recording-notifier.js';

const broker = new Mosquitto();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-daemon-'));
const FRAME_MS = 100;
let faceFrames: Buffer[] = [];
let emptyFrame: Buffer;

before(async () => {
  await broker.start();
  ({ faceFrames, emptyFrame } = await onePersonClip('no_mask'));
});
const running: Daemon[] = [];
after(async () => {
  for (const d of running) await d.stop();
  await broker.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

type Probe = MaskClassifier & { closed: boolean; usedAfterClose: number };

/** The real classifier, watched: a call after close() is counted (reload-model must never cause one). */
async function probedClassifier(): Promise<Probe> {
  const real = await createMaskClassifier({ modelDir: 'models/maskwatch-default', precision: 'float' });
  const probe: Probe = {
    info: real.info,
    closed: false,
    usedAfterClose: 0,
    classifyFaces: async (frame, boxes) => {
      if (probe.closed) probe.usedAfterClose++;
      const verdicts = await real.classifyFaces(frame, boxes);
      if (probe.closed) probe.usedAfterClose++;
      return verdicts;
    },
    close: async () => {
      probe.closed = true;
      await real.close();
    },
  };
  return probe;
}

async function startDaemon(name: string, overrides: Record<string, unknown> = {}) {
  const { config } = loadConfig({ overrides: { deviceId: name, 'mqtt.url': broker.url, 'signals.lampTest': false, 'mqtt.homeAssistant': false, 'mqtt.statsIntervalS': 0, ...overrides }, env: {} });
  const clock = new ManualClock();
  const camera = new FakeCamera(clock);
  const gpio = new FakeGpio(clock);
  const classifiers: Probe[] = [await probedClassifier()];
  const sink = new MqttEventSink({ mqtt: config.mqtt, deviceId: name, stateDir: path.join(tmp, name), clock: systemClock, env: {}, reconnectInitialMs: 50 });
  const notifier = new RecordingNotifier();
  const daemon = new Daemon({
    source: camera,
    detector: await createFaceDetector(config.detector),
    classifier: classifiers[0]!,
    loadClassifier: async () => {
      const next = await probedClassifier();
      classifiers.push(next);
      return next;
    },
    tracker: new IouTracker(config.tracker),
    signals: new Lights(gpio, lightsOptionsFromConfig(config.signals), clock),
    sink,
    notifier,
    clock,
    holdMs: config.signals.holdMs,
    statsIntervalMs: 0,
    watchdog: false,
  });
  running.push(daemon);
  await daemon.start();
  await waitFor('connected', () => sink.connected);
  let processed = 0;
  daemon.bus.on('frame.processed', 'test', () => void processed++);
  /** One frame through the whole pipeline, then the clock moves on by a frame. */
  const feed = async (jpeg: Buffer) => {
    const before = processed;
    camera.push(jpeg);
    await waitFor('frame processed', () => processed > before, 10_000);
    clock.advance(FRAME_MS);
  };
  return { daemon, camera, gpio, clock, config, classifiers, notifier, feed, processed: () => processed };
}

async function watcher(filter: string) {
  const client: MqttClient = await broker.client({ protocolVersion: 5 });
  const got: Array<{ topic: string; text: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, text: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, got, of: (suffix: string) => got.filter((m) => m.topic.endsWith(suffix)).map((m) => JSON.parse(m.text) as Record<string, unknown>) };
}

const ledState = (gpio: FakeGpio) => (['green', 'red', 'amber'] as const).filter((c) => gpio.state.get(c));

test('the retained MQTT state is what the LEDs show, at every change; entered, decided and left reach MQTT', { timeout: 60_000 }, async () => {
  const d = await startDaemon('door-state');
  const w = await watcher('maskwatch/door-state/#');
  const seen: Array<{ state: DaemonState; leds: string[] }> = [];
  d.daemon.bus.on('state.changed', 'test', (state) => seen.push({ state, leds: ledState(d.gpio) }));
  for (const f of faceFrames) await d.feed(f);
  await waitFor('event', () => w.of('/event').length === 1);
  const event = w.of('/event')[0]!;
  assert.equal(event.label, 'no_mask');
  assert.equal(event.source, 'v4l2:/dev/video9');
  assert.deepEqual(ledState(d.gpio), ['red']);
  // Nobody in view: the track ends after lostAfterMs, the light holds for holdMs, then goes off.
  const framesToLose = Math.ceil(d.config.tracker.lostAfterMs / FRAME_MS) + 1;
  for (let i = 0; i < framesToLose; i++) await d.feed(emptyFrame);
  await waitFor('left', () => w.of('/person').some((p) => p.type === 'left'));
  const left = w.of('/person').find((p) => p.type === 'left')!;
  assert.deepEqual([left.trackId, left.label], [event.trackId, 'no_mask']);
  assert.ok(w.of('/person').some((p) => p.type === 'entered' && p.trackId === event.trackId));
  assert.deepEqual(ledState(d.gpio), ['red'], 'held');
  d.clock.advance(d.config.signals.holdMs);
  assert.deepEqual(ledState(d.gpio), []);
  await waitFor('state off on MQTT', () => w.of('/state').at(-1)?.light === 'off');
  // Every state change: the LEDs at that moment show its light, and MQTT carried exactly these states, in order.
  for (const s of seen) assert.deepEqual(s.leds, s.state.light === 'off' ? [] : [s.state.light]);
  // (The retained state the watcher got on subscribing is the one the daemon published at its start: off.)
  const live = w.got.filter((m) => m.topic.endsWith('/state') && !m.retain).map((m) => JSON.parse(m.text) as unknown);
  assert.deepEqual(live, seen.map((s) => s.state));
  // A newcomer reads the retained state: what the door shows now.
  const late = await watcher('maskwatch/door-state/state');
  await waitFor('retained state', () => late.got.length === 1);
  assert.ok(late.got[0]!.retain);
  assert.deepEqual(JSON.parse(late.got[0]!.text), { light: 'off', label: null, peopleInView: 0 });
  await d.daemon.stop();
  await Promise.all([w.client.endAsync(), late.client.endAsync()]);
});

test('people one after another in the same spot, 300 ms apart (less than lostAfterMs): each gets their own light and event, the one before leaves first', { timeout: 60_000 }, async () => {
  const d = await startDaemon('door-queue');
  const w = await watcher('maskwatch/door-queue/#');
  const people = DEMO_PEOPLE.slice(0, 4).map((p) => ({ image: path.join(DEMO_ASSETS_DIR, p.file), label: p.label }));
  const clip = await buildClip(people, { fps: 1000 / FRAME_MS, showMs: 1500, gapMs: 300 });
  assert.ok(3 * FRAME_MS < d.config.tracker.lostAfterMs && 3 * FRAME_MS >= d.config.tracker.newPersonAfterGapMs, 'the gap is one the tracker alone would not end');
  const lightsAtEnd: string[][] = [];
  for (const [i, frame] of clip.frames.entries()) {
    await d.feed(frame);
    if (clip.sequence.segments.some((s) => s.endFrame === i + 1)) lightsAtEnd.push(ledState(d.gpio));
  }
  await waitFor('four events', () => w.of('/event').length >= 4);
  const events = w.of('/event');
  assert.deepEqual(events.map((e) => e.label), clip.sequence.expected);
  assert.deepEqual(lightsAtEnd, [['green'], ['red'], ['amber'], ['red']], 'each person has their own light while in view');
  const ids = events.map((e) => e.trackId as number);
  assert.equal(new Set(ids).size, 4);
  // On the person topic each one before leaves before the next enters: entered 1, left 1, entered 2, left 2, …
  await waitFor('three left', () => w.of('/person').filter((p) => p.type === 'left').length >= 3);
  const order = w.of('/person').map((p) => `${String(p.type)} ${String(p.trackId)}`);
  assert.deepEqual(order.slice(0, 7), [`entered ${ids[0]}`, `left ${ids[0]}`, `entered ${ids[1]}`, `left ${ids[1]}`, `entered ${ids[2]}`, `left ${ids[2]}`, `entered ${ids[3]}`]);
  const lefts = w.of('/person').filter((p) => p.type === 'left');
  assert.deepEqual(lefts.map((p) => p.label), clip.sequence.expected.slice(0, 3));
  await d.daemon.stop();
  await w.client.endAsync();
});

test('a crash left a red light and a retrying camera retained: the next start replaces both before any frame', { timeout: 60_000 }, async () => {
  const stale = await broker.client({ protocolVersion: 5 });
  await stale.publishAsync('maskwatch/door-stale/state', JSON.stringify({ light: 'red', label: 'no_mask', peopleInView: 1 }), { qos: 1, retain: true });
  await stale.publishAsync('maskwatch/door-stale/camera', JSON.stringify({ state: 'retrying', detail: 'earlier run', ts: '2026-01-01T00:00:00.000Z' }), { qos: 1, retain: true });
  await stale.endAsync();
  const d = await startDaemon('door-stale');
  assert.equal(d.processed(), 0);
  const late = await watcher('maskwatch/door-stale/+');
  await waitFor('retained state and camera', () => late.got.some((m) => m.topic.endsWith('/state')) && late.got.some((m) => m.topic.endsWith('/camera')));
  assert.deepEqual(late.of('/state'), [{ light: 'off', label: null, peopleInView: 0 }]);
  assert.notEqual(late.of('/camera')[0]!.detail, 'earlier run');
  assert.deepEqual(ledState(d.gpio), []);
  // systemd's STATUS= follows the camera state from the start, streaming included.
  assert.ok(d.notifier.sent.includes('STATUS=camera starting'), d.notifier.sent.join(' | '));
  assert.ok(d.notifier.sent.includes('STATUS=camera streaming'), d.notifier.sent.join(' | '));
  await d.daemon.stop();
  await late.client.endAsync();
});

test('commands over MQTT: lamp test, mute, and reload-model while frames flow (the old model is closed only once unused)', { timeout: 90_000 }, async () => {
  const d = await startDaemon('door-cmd');
  const w = await watcher('maskwatch/door-cmd/cmd/+/result');
  const cmd = await broker.client({ protocolVersion: 5 });
  const ask = async (name: string, body: unknown, n: number) => {
    await cmd.publishAsync(`maskwatch/door-cmd/cmd/${name}`, JSON.stringify(body), { qos: 1 });
    await waitFor(`${name} reply`, () => w.got.filter((m) => m.topic.endsWith(`/${name}/result`)).length >= n, 20_000);
    return JSON.parse(w.got.filter((m) => m.topic.endsWith(`/${name}/result`))[n - 1]!.text) as { ok: boolean; message: string };
  };

  const lampTest = ask('lamp-test', {}, 1);
  for (let i = 0; i < 12 && !(await Promise.race([lampTest.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))])); i++) d.clock.advance(300);
  assert.equal((await lampTest).ok, true);
  for (const c of ['green', 'amber', 'red']) assert.ok(d.gpio.of(c).some(([, on]) => on), `${c} lit in the lamp test`);

  assert.deepEqual(await ask('mute', { seconds: 600 }, 1), { ok: true, message: 'buzzer muted for 600 s' });
  const mutedAt = d.clock.now();
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  let flowing = true;
  const frames = (async () => {
    for (let i = 0; flowing; i++) await d.feed(faceFrames[i % faceFrames.length]!);
  })();
  try {
    await waitFor('decision', () => d.gpio.state.get('red') === true, 20_000);
    assert.equal(d.gpio.of('buzzer').filter(([t, on]) => on && t >= mutedAt).length, 0, 'muted: no buzz');
    const before = d.processed();
    const reply = await ask('reload-model', {}, 1);
    assert.equal(reply.ok, true, reply.message);
    const afterReload = d.processed();
    await waitFor('frames after the reload', () => d.processed() > afterReload + 3, 20_000);
    assert.ok(afterReload > before, 'frames kept flowing during the reload');
  } finally {
    flowing = false;
    await frames;
    setLogSink(previous);
  }
  assert.equal(d.classifiers.length, 2);
  assert.equal(d.classifiers[0]!.closed, true, 'the old model is closed');
  assert.equal(d.classifiers[0]!.usedAfterClose, 0, 'and never used after');
  assert.equal(d.classifiers[1]!.closed, false);
  assert.deepEqual(lines.filter((l) => /skipped/.test(l)), []);
  await d.daemon.stop();
  assert.equal(d.classifiers[1]!.closed, true);
  await Promise.all([w.client.endAsync(), cmd.endAsync()]);
});

test('a camera that vanishes: READY anyway, the camera state on MQTT, no event; lights off and offline after stop', { timeout: 30_000 }, async () => {
  const d = await startDaemon('door-gone');
  const w = await watcher('maskwatch/door-gone/#');
  d.camera.vanish('/dev/video9: No such device');
  await waitFor('camera retrying on MQTT', () => w.of('/camera').some((c) => c.state === 'retrying'));
  assert.ok(d.notifier.sent.includes('READY=1'));
  assert.ok(d.notifier.sent.some((s) => s.startsWith('STATUS=camera retrying')));
  assert.equal(w.of('/event').length, 0);
  await d.daemon.stop();
  assert.ok(d.notifier.sent.includes('STOPPING=1'));
  await waitFor('offline', () => w.got.some((m) => m.topic.endsWith('/availability') && m.text === 'offline'));
  assert.deepEqual(ledState(d.gpio), []);
  assert.ok(d.gpio.closed);
  await w.client.endAsync();
});
