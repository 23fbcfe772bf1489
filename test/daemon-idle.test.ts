/**
 * Idle mode (src/daemon/idle-gate.ts): the gate alone with a manual clock, then the in-process daemon (fake camera, manual
 * clock, real decoder, detector, classifier, tracker, lights on fake GPIO, a real Mosquitto): idle after
 * detector.idleAfterS without a face, frames left undecoded or stopped at a thumbnail while idle, back to every frame
 * at the first face, and the person who stepped in is decided.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, systemClock } from '../src/core/clock.js';
import { loadConfig } from '../src/config/load.js';
import { IdleGate } from '../src/daemon/idle-gate.js';
import { Daemon } from '../src/daemon/daemon.js';
import { IouTracker } from '../src/decision/tracker.js';
import { MqttEventSink } from '../src/events/mqtt-sink.js';
import { Lights, lightsOptionsFromConfig } from '../src/signals/lights.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import type { GreyImage } from '../src/vision/image-decode.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { FakeCamera } from './helpers/fake-camera.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { onePersonClip } from './helpers/person-clip.js';
import { RecordingNotifier } from './helpers/recording-notifier.js';

const grey = (value: number, patch = 0): GreyImage => {
  const g = new Uint8Array(64 * 48).fill(value);
  for (let y = 0; y < 6; y++) for (let x = 0; x < patch; x++) g[y * 64 + x] = 255 - value;
  return { width: 64, height: 48, grey: g };
};

test('the idle gate: full frames until idleAfterMs without a face, then idleFps looks, only changed thumbnails go on; a face ends it', () => {
  const clock = new ManualClock();
  const gate = new IdleGate({ idleAfterMs: 1000, idleFps: 5 }, clock);
  const frame = (faces: number, thumb: GreyImage) => {
    const a = gate.admit();
    if (a === 'process' || (a === 'check' && gate.changed(thumb))) gate.detected(faces, a === 'check' ? thumb : null);
    clock.advance(100);
    return a;
  };
  const first = Array.from({ length: 11 }, () => frame(0, grey(80)));
  assert.deepEqual(first, Array(11).fill('process'), 'active for the first second');
  assert.equal(gate.idle, true);
  const idle = Array.from({ length: 9 }, () => frame(0, grey(80)));
  assert.deepEqual(idle, ['skip', 'check', 'skip', 'check', 'skip', 'check', 'skip', 'check', 'skip'], '5 looks a second at 10 frames/s');
  assert.deepEqual(gate.counts, { idle: true, skipped: 5, checked: 4, unchanged: 3 }, 'the first look after going idle goes on to the detector (no reference yet)');
  assert.equal(gate.changed(grey(80, 1)), false, '6 changed pixels of 3072: below 0.3 %');
  assert.equal(gate.changed(grey(80, 2)), true, '12 changed pixels: a change');
  assert.equal(gate.changed(grey(86)), false, 'a brightness change of 6 levels is not motion');
  clock.advance(200);
  assert.equal(gate.changed(grey(80)), true, 'the detector runs at least every idleAfterMs');
  gate.detected(1, grey(80));
  assert.equal(gate.idle, false);
  assert.equal(gate.admit(), 'process');
  const never = new IdleGate({ idleAfterMs: 0, idleFps: 4 }, clock);
  for (let i = 0; i < 50; i++) {
    assert.equal(never.admit(), 'process');
    never.detected(0, null);
    clock.advance(1000);
  }
});

const broker = new Mosquitto();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-idle-'));
const FRAME_MS = 100;
let faceFrames: Buffer[] = [];
let emptyFrame: Buffer;

before(async () => {
  await broker.start();
  ({ faceFrames, emptyFrame } = await onePersonClip('no_mask'));
});
after(async () => {
  await broker.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the daemon goes idle without a face, decodes little while idle, and a person stepping in is decided at full rate', { timeout: 120_000 }, async () => {
  const { config } = loadConfig({ overrides: { deviceId: 'idle', 'mqtt.url': broker.url, 'signals.lampTest': false, 'mqtt.homeAssistant': false, 'mqtt.statsIntervalS': 0, 'detector.idleAfterS': 2, 'detector.idleFps': 5 }, env: {} });
  const clock = new ManualClock();
  const camera = new FakeCamera(clock);
  const daemon = new Daemon({
    source: camera,
    detector: await createFaceDetector(config.detector),
    classifier: await createMaskClassifier({ modelDir: config.classifier.modelDir, precision: 'float' }),
    loadClassifier: () => createMaskClassifier({ modelDir: config.classifier.modelDir, precision: 'float' }),
    tracker: new IouTracker(config.tracker),
    signals: new Lights(new FakeGpio(clock), lightsOptionsFromConfig(config.signals), clock),
    sink: new MqttEventSink({ mqtt: config.mqtt, deviceId: 'idle', stateDir: path.join(tmp, 'state'), clock: systemClock, env: {}, reconnectInitialMs: 50 }),
    notifier: new RecordingNotifier(),
    clock,
    holdMs: config.signals.holdMs,
    statsIntervalMs: 0,
    watchdog: false,
    idle: { idleAfterMs: config.detector.idleAfterS * 1000, idleFps: config.detector.idleFps },
  });
  let looked = 0;
  let fullFaces = 0;
  const decided: string[] = [];
  daemon.bus.on('frame.processed', 'test', (f) => {
    looked++;
    if (f.faces > 0) fullFaces++;
  });
  daemon.bus.on('person.decided', 'test', (d) => void decided.push(d.decision.label));
  await daemon.start();
  try {
    const stats = () => daemon.sampleStats()!;
    /** One frame in; waits until the pipeline looked at it or left it undecoded, then a frame's time passes. */
    const feed = async (jpeg: Buffer) => {
      const before = looked + stats().idleSkippedFrames!;
      camera.push(jpeg);
      await waitFor('frame handled', () => looked + stats().idleSkippedFrames! > before, 10_000);
      clock.advance(FRAME_MS);
    };
    for (let i = 0; i < 19; i++) await feed(emptyFrame);
    assert.equal(stats().idle, false, 'not idle before detector.idleAfterS');
    for (let i = 0; i < 3; i++) await feed(emptyFrame);
    assert.equal(stats().idle, true, 'idle after 2 s without a face');
    const lookedBefore = looked;
    const skippedBefore = stats().idleSkippedFrames!;
    for (let i = 0; i < 20; i++) await feed(emptyFrame);
    const s = stats();
    assert.ok(s.idleSkippedFrames! - skippedBefore >= 18, `20 unchanged frames while idle: ${s.idleSkippedFrames! - skippedBefore} left undecoded or at a thumbnail`);
    assert.ok(looked - lookedBefore >= 8 && looked - lookedBefore <= 11, `5 looks a second: ${looked - lookedBefore} in 2 s`);
    assert.equal(s.idle, true);

    const lookedAtFaces = looked;
    for (const f of faceFrames) await feed(f);
    assert.deepEqual(decided, ['no_mask'], 'the person who stepped into the idle scene is decided');
    assert.equal(stats().idle, false, 'the first face ends idle mode');
    assert.ok(faceFrames.length - (looked - lookedAtFaces) <= 1, `every frame once a face was seen: ${looked - lookedAtFaces} of ${faceFrames.length} looked at`);
    assert.ok(fullFaces >= faceFrames.length - 1, `faces found in ${fullFaces} of ${faceFrames.length} frames`);
  } finally {
    await daemon.stop();
  }
});
