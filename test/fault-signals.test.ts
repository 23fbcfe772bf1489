/**
 * Signals as service managers and shells send them: two SIGTERMs 50 ms apart, the real `timeout` (which signals the
 * daemon and then its whole process group), and a SIGTERM while the models are still loading. Each is an orderly
 * stop: exit 0, the "stopped" line, lights off, `offline` published; during start-up, exit 0 with one line, not 143.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { DaemonProcess, daemonConfig } from './helpers/daemon-process.js';
import { StallProxy } from './helpers/tcp-proxy.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-fault-signals-'));
const broker = new Mosquitto();
const daemons: DaemonProcess[] = [];
before(() => broker.start());
after(async () => {
  for (const d of daemons) d.kill();
  await broker.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function availability(deviceId: string): Promise<string[]> {
  const client = await broker.client();
  const seen: string[] = [];
  client.on('message', (_topic, payload) => seen.push(payload.toString()));
  await client.subscribeAsync(`maskwatch/${deviceId}/availability`, { qos: 1 });
  return seen;
}

function start(deviceId: string, opts: { wrapper?: string[]; url?: string } = {}): DaemonProcess {
  const d = new DaemonProcess(tmp, deviceId, daemonConfig(tmp, deviceId, { url: opts.url ?? broker.url }), opts);
  daemons.push(d);
  return d;
}

/** What a user relies on after a stop: exit 0 (not a signal), the last log line "stopped", lights off, offline retained. */
async function assertOrderlyStop(d: DaemonProcess, seen: string[]): Promise<void> {
  const exit = await d.exited;
  assert.deepEqual([exit.code, exit.signal], [0, null], d.output);
  assert.match(d.stderr.trimEnd().split('\n').at(-1)!, /INFO  \[daemon\] stopped$/, d.output);
  assert.equal(d.lights().at(-1), 'off', d.output);
  assert.match(d.stdout.trimEnd().split('\n').at(-1)!, /^(?:\S+ )?\[lights\] off\s+buzzer off$/);
  await waitFor('offline published', () => seen.at(-1) === 'offline', 3000);
}

const readyAndLit = (d: DaemonProcess) => /ready: first frame/.test(d.stderr) && d.lights().some((c) => c !== 'off');

test('two SIGTERMs 50 ms apart, over a link with 60 ms each way: the stop (which waits for the broker) is not cut short', { timeout: 90_000 }, async () => {
  const seen = await availability('sig-double');
  const slowLink = new StallProxy(broker.port);
  await slowLink.start();
  after(() => slowLink.stop());
  slowLink.latencyMs = 60;
  const d = start('sig-double', { url: slowLink.url });
  await waitFor('ready, a light on and online', () => readyAndLit(d) && seen.includes('online'), 60_000);
  d.proc.kill('SIGTERM');
  await sleep(50);
  if (d.running) d.proc.kill('SIGTERM');
  await assertOrderlyStop(d, seen);
  assert.match(d.stderr, /INFO  \[daemon\] SIGTERM while stopping: still stopping/, 'the second signal came during the stop');
});

test('the real `timeout -s TERM` (the daemon, then its process group): an orderly stop, status 0', { timeout: 90_000 }, async () => {
  const seen = await availability('sig-timeout');
  const d = start('sig-timeout', { wrapper: ['timeout', '--preserve-status', '-s', 'TERM', '15'] });
  await waitFor('ready, a light on and online', () => readyAndLit(d) && seen.includes('online'), 60_000);
  await assertOrderlyStop(d, seen);
});

test('SIGTERM while the models load: exit 0 and one line, not 143', { timeout: 60_000 }, async () => {
  const d = start('sig-startup');
  // The classifier's ONNX Runtime library appears in the process's memory map once the models start loading.
  const loading = () => {
    try {
      return fs.readFileSync(`/proc/${d.pid}/maps`, 'utf8').includes('onnxruntime');
    } catch {
      return false;
    }
  };
  await waitFor('the models loading', loading, 30_000);
  d.proc.kill('SIGTERM');
  const exit = await d.exited;
  assert.ok(!/ready: /.test(d.stderr), 'the signal came before ready');
  assert.deepEqual([exit.code, exit.signal], [0, null], d.output);
  const lines = d.stderr.trim().split('\n');
  assert.equal(lines.length, 1, d.output);
  assert.match(lines[0]!, /^\S+ INFO  \[daemon\] SIGTERM: stopping$/);
});

test('SIGHUP (a closed terminal, an ssh session gone) is an orderly stop too: before, it killed the daemon with a light on', { timeout: 90_000 }, async () => {
  const seen = await availability('sig-hup');
  const d = start('sig-hup');
  await waitFor('ready, a light on and online', () => readyAndLit(d) && seen.includes('online'), 60_000);
  d.proc.kill('SIGHUP');
  await assertOrderlyStop(d, seen);
  assert.match(d.stderr, /INFO  \[daemon\] SIGHUP: stopping/);
});

test('SIGTERM while the broker does not answer: still exit 0 with "stopped" and lights off, inside the stop deadline', { timeout: 90_000 }, async () => {
  const link = new StallProxy(broker.port);
  await link.start();
  after(() => link.stop());
  const seen = await availability('sig-stalled');
  const d = start('sig-stalled', { url: link.url });
  await waitFor('ready, a light on and online', () => readyAndLit(d) && seen.includes('online'), 60_000);
  link.stall();
  const asked = Date.now();
  d.proc.kill('SIGTERM');
  const exit = await d.exited;
  assert.deepEqual([exit.code, exit.signal], [0, null], d.output);
  assert.ok(exit.at - asked < 1800, `stopped in ${exit.at - asked} ms`);
  assert.match(d.stderr.trimEnd().split('\n').at(-1)!, /INFO  \[daemon\] stopped$/, d.output);
  assert.ok(!/exiting anyway/.test(d.stderr), d.output);
  assert.equal(d.lights().at(-1), 'off', d.output);
});

test('stdout closed by its reader (`run | head`): the daemon goes on, and still stops in order', { timeout: 90_000 }, async () => {
  const seen = await availability('sig-epipe');
  const d = start('sig-epipe');
  await waitFor('ready, a light on and online', () => readyAndLit(d) && seen.includes('online'), 60_000);
  d.proc.stdout!.destroy();
  const decided = d.decided();
  await waitFor('two more people decided (console light lines written into the closed pipe meanwhile)', () => d.decided() >= decided + 2, 30_000);
  assert.ok(d.running, d.stderr.slice(-2000));
  assert.ok(!/uncaught error/.test(d.stderr), d.stderr.slice(-2000));
  d.proc.kill('SIGTERM');
  const exit = await d.exited;
  assert.deepEqual([exit.code, exit.signal], [0, null], d.stderr.slice(-2000));
  assert.match(d.stderr.trimEnd().split('\n').at(-1)!, /INFO  \[daemon\] stopped$/);
});
