/**
 * The daemon end to end, as a child process: the demo clip (real faces of each class) through the real
 * detector and classifier, console lights, a real Mosquitto. One event per person, in order, right labels.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { ROOT, runCli } from './helpers/cli.js';
import { killAfterTests } from './helpers/daemon-process.js';
import { LIGHT_FOR } from '../src/core/labels.js';
import { ensureDemoClip } from '../src/source/demo-clip.js';
import type { Label } from '../src/core/types.js';

const broker = new Mosquitto();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-e2e-'));
before(() => broker.start());
after(async () => {
  await broker.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Daemon {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function startDaemon(name: string, config: Record<string, unknown>): Daemon {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/maskwatch.js'), 'run', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  killAfterTests(proc);
  let text = '';
  proc.stdout!.on('data', (d) => (text += d));
  proc.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { proc, out: () => text, exited };
}

function baseConfig(name: string, extra: { camera?: Record<string, unknown>; mqtt?: Record<string, unknown> } = {}) {
  return {
    deviceId: name,
    stateDir: path.join(tmp, name),
    camera: { source: 'demo', loop: false, ...extra.camera },
    signals: { backend: 'console', lampTest: false },
    mqtt: { url: broker.url, statsIntervalS: 0, homeAssistant: false, ...extra.mqtt },
  };
}

async function collect(client: MqttClient, filter: string): Promise<Array<{ topic: string; payload: string; retain: boolean }>> {
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return got;
}

/** The pid of a child process with this command name, read from /proc (no procps needed). */
function childPid(parent: number, comm: string): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && name === comm) return Number(entry);
    } catch {
      /* gone meanwhile */
    }
  }
  throw new Error(`no ${comm} child of ${parent}`);
}

const lightLines = (text: string) =>
  text
    .split('\n')
    .map((l) => /^\S+Z \[lights\] (\w+)/.exec(l)?.[1])
    .filter((c): c is string => !!c);

test('demo clip: exactly one event per person with the right label, lights in the same order, retained state and availability', { timeout: 120_000 }, async () => {
  const watcher = await broker.client();
  const messages = await collect(watcher, 'maskwatch/e2e-demo/#');
  const d = startDaemon('e2e-demo', baseConfig('e2e-demo'));
  const { code } = await d.exited;
  assert.equal(code, 0, d.out());
  const sequence = JSON.parse(fs.readFileSync(path.join(tmp, 'e2e-demo/demo/demo.json'), 'utf8')) as { expected: Label[] };
  assert.ok(sequence.expected.length >= 3 && new Set(sequence.expected).size === 3, 'the demo has each class');

  await waitFor('all events', () => messages.filter((m) => m.topic.endsWith('/event')).length >= sequence.expected.length, 5000).catch(() => undefined);
  const events = messages.filter((m) => m.topic === 'maskwatch/e2e-demo/event').map((m) => JSON.parse(m.payload));
  assert.deepEqual(events.map((e) => e.label), sequence.expected, d.out());
  assert.deepEqual(events.map((e) => e.seq), sequence.expected.map((_, i) => i + 1));
  for (const e of events) {
    assert.match(e.id, /^[0-9a-f-]{36}$/);
    assert.equal(e.device, 'e2e-demo');
    assert.ok(e.frames >= 3 && e.score >= 0.6 && e.durationMs >= 0);
    assert.equal(e.model.name, 'maskwatch-default');
    assert.match(e.model.sha256, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(e.ts)));
  }

  // The lights: each person's colour once, in order, with off in between; off at the end.
  const lights = lightLines(d.out());
  const colours = lights.filter((c) => c !== 'off').filter((c, i, a) => i === 0 || a[i - 1] !== c);
  assert.deepEqual(colours, sequence.expected.map((l) => LIGHT_FOR[l].toUpperCase()));
  assert.equal(lights.at(-1), 'off');

  // What a new subscriber sees afterwards: offline, and the last state with nobody in view.
  const late = await broker.client();
  const retained = await collect(late, 'maskwatch/e2e-demo/+');
  await waitFor('retained messages', () => retained.some((m) => m.topic.endsWith('/availability')) && retained.some((m) => m.topic.endsWith('/state')));
  assert.equal(retained.find((m) => m.topic.endsWith('/availability'))!.payload, 'offline');
  const state = JSON.parse(retained.find((m) => m.topic.endsWith('/state'))!.payload);
  assert.deepEqual([state.light, state.peopleInView], ['off', 0]);
  assert.ok(retained.every((m) => m.retain));
  // While it ran, availability went online first.
  const availability = messages.filter((m) => m.topic.endsWith('/availability')).map((m) => m.payload);
  assert.deepEqual([availability[0], availability.at(-1)], ['online', 'offline']);
});

test('SIGTERM: offline published, lights off, exit 0 within 2 s', { timeout: 90_000 }, async () => {
  const watcher = await broker.client();
  const messages = await collect(watcher, 'maskwatch/e2e-term/availability');
  const d = startDaemon('e2e-term', baseConfig('e2e-term', { camera: { loop: true } }));
  await waitFor('ready and a light on', () => /ready: first frame/.test(d.out()) && lightLines(d.out()).some((c) => c !== 'off'), 60_000);
  await waitFor('online', () => messages.some((m) => m.payload === 'online'));
  const sentAt = Date.now();
  d.proc.kill('SIGTERM');
  const { code, at } = await d.exited;
  assert.equal(code, 0, d.out());
  assert.ok(at - sentAt < 2000, `took ${at - sentAt} ms`);
  await waitFor('offline', () => messages.at(-1)?.payload === 'offline', 3000);
  assert.match(d.out().trimEnd().split('\n').filter((l) => l.includes(' [lights] ')).at(-1)!, /^\S+Z \[lights\] off\s+buzzer off/);
});

test('the camera process dies: one log line, the daemon stays up and recovers', { timeout: 120_000 }, async () => {
  const clip = path.join(tmp, 'people.mp4');
  const { clipPath: demo } = await ensureDemoClip(path.join(tmp, 'clip-state'));
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'mjpeg', '-framerate', '15', '-i', demo, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-y', clip]);
  const watcher = await broker.client();
  const camera = await collect(watcher, 'maskwatch/e2e-cam/camera');
  // At 15 frames/s the clip's empty gaps between people last 1.0 s: a lostAfterMs below that makes each a new person
  // (with the default 1.5 s the whole clip is one track, and a person decided before the kill is the last event).
  const d = startDaemon('e2e-cam', { ...baseConfig('e2e-cam', { camera: { source: `file:${clip}`, loop: true, retryInitialMs: 200 } }), tracker: { lostAfterMs: 500 } });
  await waitFor('ready', () => /ready: first frame/.test(d.out()), 60_000);
  const ffmpegPid = childPid(d.proc.pid!, 'ffmpeg');
  process.kill(ffmpegPid, 'SIGKILL');
  await waitFor('camera retrying then streaming again', () => {
    const states = camera.map((m) => JSON.parse(m.payload).state as string);
    const r = states.indexOf('retrying');
    return r >= 0 && states.indexOf('streaming', r) > r;
  }, 30_000);
  const before = (d.out().match(/person \d+:/g) ?? []).length;
  await waitFor('events after the restart', () => (d.out().match(/person \d+:/g) ?? []).length > before, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${d.out().slice(-4000)}`);
  });
  assert.equal(d.proc.exitCode, null, 'the daemon stayed up');
  d.proc.kill('SIGTERM');
  assert.equal((await d.exited).code, 0);
});

test('a bad config value, an unknown key, a missing model: one clear error, non-zero exit, nothing started', { timeout: 60_000 }, async () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['bad-value', { detector: { scoreThreshold: 2 } }, /^config: detector\.scoreThreshold = 2 \(in .*bad-value\.json\): must be a number from 0 to 1, or null for the detector model's own default$/],
    ['unknown-key', { camera: { resolution: '720p' } }, /^config: unknown key 'camera\.resolution'/],
    ['missing-model', { classifier: { modelDir: path.join(tmp, 'no-such-model') }, stateDir: path.join(tmp, 'mm') }, /^config: classifier\.modelDir = ".*no-such-model" \(in .*missing-model\.json\): .*no-such-model: no such folder$/],
  ];
  for (const [name, config, expected] of cases) {
    const file = path.join(tmp, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify({ ...config, signals: { backend: 'console' } }));
    const r = await runCli(['run', '--config', file]);
    assert.notEqual(r.code, 0, name);
    const lines = (r.stdout + r.stderr).trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(lines[0]!, expected);
  }
});

test('broker down, daemon SIGKILLed: the outbox survives and is delivered in order after both come back, seq without gaps', { timeout: 150_000 }, async () => {
  const events: Array<{ seq: number; id: string }> = [];
  const watcher = await broker.client({ clientId: 'e2e-kill-watcher', clean: false });
  watcher.on('message', (topic, payload) => {
    if (topic === 'maskwatch/e2e-kill/event') events.push(JSON.parse(payload.toString()));
  });
  await watcher.subscribeAsync('maskwatch/e2e-kill/event', { qos: 1 });
  const config = baseConfig('e2e-kill', { camera: { loop: true }, mqtt: { keepaliveS: 5 } });
  const first = startDaemon('e2e-kill', config);
  await waitFor('a first event through the broker', () => events.length >= 1, 60_000);

  await broker.stop();
  const outboxFiles = () => fs.readdirSync(path.join(tmp, 'e2e-kill/outbox')).filter((f) => f.endsWith('.json'));
  await waitFor('two events waiting in the outbox while the broker is down', () => outboxFiles().length >= 2, 60_000);
  first.proc.kill('SIGKILL');
  await first.exited;
  const outbox = outboxFiles();
  const lastSeq = Math.max(...outbox.map((f) => Number.parseInt(f, 10)));

  await broker.start();
  const second = startDaemon('e2e-kill', config);
  await waitFor(`events up to seq ${lastSeq}`, () => events.some((e) => e.seq >= lastSeq), 60_000);
  second.proc.kill('SIGTERM');
  assert.equal((await second.exited).code, 0, second.out());

  const unique = events.filter((e, i) => events.findIndex((o) => o.id === e.id) === i);
  const seqs = unique.map((e) => e.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `seq in order without gaps: ${seqs.join(',')}`);
  assert.equal(fs.readdirSync(path.join(tmp, 'e2e-kill/outbox')).filter((f) => f.endsWith('.json')).length, 0, 'outbox drained');
});
