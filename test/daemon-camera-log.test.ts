/**
 * The log at a camera that fails and comes back: exactly one line per change of camera state (the daemon's
 * `camera <state>: detail`), none from the source for the same event, and repeated failures while already retrying
 * only at debug level. Real capture processes (ffmpeg playing a test pattern, a binary that does not exist).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { systemClock } from '../src/core/clock.js';
import { setLogLevel, setLogSink, type LogLevel } from '../src/core/log.js';
import type { FrameSource } from '../src/core/seams.js';
import { Daemon } from '../src/daemon/daemon.js';
import { IouTracker } from '../src/decision/tracker.js';
import { MqttEventSink } from '../src/events/mqtt-sink.js';
import { Lights, lightsOptionsFromConfig } from '../src/signals/lights.js';
import { ProcessFrameSource, type SpawnSpec } from '../src/source/process-source.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { waitFor } from './helpers/mosquitto.js';
import { RecordingNotifier } from './helpers/recording-notifier.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-camlog-'));
const lines: Array<{ line: string; level: LogLevel }> = [];
const previous = setLogSink((line, level) => lines.push({ line, level }));
setLogLevel('debug');
const running: Daemon[] = [];
after(async () => {
  for (const d of running) await d.stop();
  setLogSink(previous);
  setLogLevel('info');
  fs.rmSync(tmp, { recursive: true, force: true });
});

const MISSING: SpawnSpec = { command: path.join(tmp, 'no-such-camera-tool'), args: [] };
const PATTERN: SpawnSpec = { command: 'ffmpeg', args: ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-c:v', 'mjpeg', '-f', 'mjpeg', '-'] };

async function daemonWith(name: string, specs: SpawnSpec[]) {
  const { config } = loadConfig({ overrides: { deviceId: name, 'mqtt.enabled': false, 'signals.lampTest': false, stateDir: path.join(tmp, name) }, env: {} });
  const source = new ProcessFrameSource({ description: name, specs, retryInitialMs: 50, retryMaxMs: 100, stallMs: 3000 }, systemClock);
  const daemon = new Daemon({
    source,
    detector: await createFaceDetector(config.detector),
    classifier: await createMaskClassifier({ modelDir: 'models/maskwatch-default', precision: 'float' }),
    loadClassifier: () => Promise.reject(new Error('not used')),
    tracker: new IouTracker(config.tracker),
    signals: new Lights(new FakeGpio(systemClock), lightsOptionsFromConfig(config.signals), systemClock),
    sink: new MqttEventSink({ mqtt: config.mqtt, deviceId: name, stateDir: config.stateDir, env: {} }),
    notifier: new RecordingNotifier(),
    clock: systemClock,
    holdMs: config.signals.holdMs,
    statsIntervalMs: 0,
    watchdog: false,
  });
  running.push(daemon);
  const states: string[] = [];
  (source as FrameSource).onStateChange((s) => states.push(s));
  return { daemon, source, states };
}

/** The lines about the camera at info level or above: the daemon's state lines and anything the source logs. */
const cameraLines = () => lines.filter((l) => l.level !== 'debug' && (/\[camera\]/.test(l.line) || /\[daemon\] camera /.test(l.line))).map((l) => l.line.replace(/^\S+ /, ''));

test('a camera that fails, streams, dies and comes back: one log line per state change, none twice', { timeout: 60_000 }, async () => {
  lines.length = 0;
  const { daemon, source, states } = await daemonWith('cam-a', [MISSING, PATTERN]);
  await daemon.start();
  await waitFor('streaming', () => source.state === 'streaming', 20_000);
  process.kill(source.pid!, 'SIGKILL');
  await waitFor('retrying, then streaming again', () => states.lastIndexOf('streaming') > states.lastIndexOf('retrying') && states.filter((s) => s === 'retrying').length === 2, 20_000);
  await daemon.stop();
  const got = cameraLines();
  assert.equal(got.length, states.length, `one line per state change:\n${got.join('\n')}\nstates: ${states.join(' ')}`);
  assert.deepEqual(states, ['retrying', 'streaming', 'retrying', 'streaming', 'stopped']);
  assert.match(got[0]!, /^WARN  \[daemon\] camera retrying: .*no-such-camera-tool: not found .*; retrying with ffmpeg in 0 ms$/);
  assert.match(got[2]!, /^WARN  \[daemon\] camera retrying: ffmpeg was killed by SIGKILL; retrying with ffmpeg in 50 ms$/);
  assert.match(got[3]!, /^INFO  \[daemon\] camera streaming: again after 2 restart\(s\)$/);
  assert.ok(got.every((l) => l.includes('[daemon] camera ')), 'the source adds no line of its own');
});

test('a camera that keeps failing: one warning, the further failed retries at debug level only', { timeout: 60_000 }, async () => {
  lines.length = 0;
  const { daemon, source } = await daemonWith('cam-b', [MISSING]);
  await daemon.start();
  await waitFor('four restarts', () => source.stats().restarts >= 4, 20_000);
  const got = cameraLines();
  assert.deepEqual(got.map((l) => l.replace(/: .*/, '')), ['WARN  [daemon] camera retrying'], got.join('\n'));
  const debug = lines.filter((l) => l.level === 'debug' && /\[daemon\] camera retrying: .*retrying in (100|50) ms$/.test(l.line));
  assert.ok(debug.length >= 3, `each further failure is still there at debug level (${debug.length})`);
  await daemon.stop();
});
