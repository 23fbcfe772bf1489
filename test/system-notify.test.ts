/**
 * SystemdNotifier against a real unix datagram socket that behaves as systemd's end of NOTIFY_SOCKET
 * (test/helpers/fake-systemd-notify.py: sender credentials, pid matching, BARRIER=1), with the real
 * systemd-notify. As root, systemd-notify would sign its messages with our pid; the service runs
 * unprivileged, so here it runs as nobody through setpriv, where the exit-before-read race is real.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../src/core/clock.js';
import { setLogSink } from '../src/core/log.js';
import { SystemdNotifier } from '../src/system/notify.js';
import { WatchdogGate } from '../src/system/watchdog.js';
import { ROOT, runCli } from './helpers/cli.js';

const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers/fake-systemd-notify.py');
const SYSTEMD_NOTIFY = spawnSync('sh', ['-c', 'command -v systemd-notify'], { encoding: 'utf8' }).stdout.trim();
const missing = spawnSync('python3', ['-c', '1']).status !== 0 ? 'python3 not available' : !SYSTEMD_NOTIFY ? 'systemd-notify not installed' : false;
const needs = { skip: missing };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-notify-'));
fs.chmodSync(dir, 0o755);
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** systemd-notify as an unprivileged user (what the service is), with extra leading arguments. */
function unprivilegedNotify(name: string, extraArgs: string[] = []): string {
  const drop = process.getuid?.() === 0 ? 'setpriv --reuid=65534 --regid=65534 --clear-groups ' : '';
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\nexec ${drop}${SYSTEMD_NOTIFY} ${extraArgs.join(' ')} "$@"\n`, { mode: 0o755 });
  return file;
}

interface Datagram {
  pid: number;
  message: string;
  accepted: boolean;
  fds: number;
}

/** Starts the fake service-manager socket; `delayMs` is how long it takes to get to each datagram. */
async function listen(name: string, delayMs = 0) {
  const socketPath = name.startsWith('@') ? name : path.join(dir, name);
  const log = path.join(dir, `${name.replace(/^@/, 'abstract-')}.log`);
  const py: ChildProcess = spawn('python3', ['-u', FAKE, socketPath, String(delayMs), log], { stdio: ['ignore', 'pipe', 'inherit'] });
  let bound = false;
  readline.createInterface({ input: py.stdout! }).on('line', (l) => (bound ||= l === 'bound'));
  await until('the socket is bound', () => bound, 20_000);
  const got = (): Datagram[] =>
    fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Datagram) : [];
  const messages = () => got().filter((d) => d.message !== 'BARRIER=1');
  return {
    socketPath,
    got,
    /** Messages (not barriers) that systemd would have matched to the service. */
    accepted: () => messages().filter((d) => d.accepted).map((d) => d.message),
    messages,
    close: () => py.kill(),
  };
}

async function until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('READY, STATUS, WATCHDOG, STOPPING arrive in order, each while its sender is alive, though systemd is slow', needs, async () => {
  const sock = await listen('slow.sock', 150);
  try {
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: sock.socketPath }, systemdNotifyPath: unprivilegedNotify('notify-slow') });
    n.ready();
    n.status('camera retrying: "no device"; $(touch /tmp/x)\n12.5 frames/s');
    n.watchdog();
    n.stopping();
    await n.close();
    // close() returns once systemd has read everything (the barrier): no waiting needed here.
    assert.deepEqual(sock.accepted(), ['READY=1', 'STATUS=camera retrying: "no device"; $(touch /tmp/x) 12.5 frames/s', 'WATCHDOG=1', 'STOPPING=1']);
    assert.equal(sock.got().filter((d) => d.message === 'BARRIER=1' && d.fds === 1).length, 4, 'each message is followed by a barrier with its pipe');
    assert.ok(sock.messages().every((d) => d.pid !== process.pid), 'sent by systemd-notify, not signed with our pid');
  } finally {
    sock.close();
  }
});

test('control: a systemd-notify that does not wait for the barrier is gone before a slow systemd reads it', needs, async () => {
  const sock = await listen('race.sock', 300);
  try {
    const r = spawnSync(unprivilegedNotify('notify-no-block', ['--no-block']), ['READY=1'], { env: { ...process.env, NOTIFY_SOCKET: sock.socketPath } });
    assert.equal(r.status, 0);
    await until('the datagram', () => sock.messages().length === 1);
    assert.deepEqual(sock.accepted(), [], 'the fake drops it as systemd would: the waiting in the test above is what keeps READY');
  } finally {
    sock.close();
  }
});

test('an abstract socket (@name) is reached', needs, async () => {
  const sock = await listen(`@maskwatch-test-${process.pid}`);
  try {
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: sock.socketPath } });
    n.watchdog();
    await n.close();
    assert.deepEqual(sock.accepted(), ['WATCHDOG=1']);
  } finally {
    sock.close();
  }
});

test('a notify that fails logs one warning, not one per message, and never throws', async () => {
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: path.join(dir, 'nobody-listens.sock') }, systemdNotifyPath: path.join(dir, 'no-such-systemd-notify') });
    n.ready();
    n.watchdog();
    n.watchdog();
    await n.close();
  } finally {
    setLogSink(previous);
  }
  const warnings = lines.filter((l) => / WARN /.test(l));
  assert.equal(warnings.length, 1, lines.join('\n'));
  assert.match(warnings[0]!, /cannot notify systemd at .*nobody-listens\.sock: .*no-such-systemd-notify/);
});

test('without NOTIFY_SOCKET every call is a no-op', async () => {
  const n = new SystemdNotifier({ env: {}, systemdNotifyPath: path.join(dir, 'does-not-exist') });
  n.ready();
  n.watchdog();
  await n.flush();
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogIntervalMs(), null);
});

test('watchdogIntervalMs is half of WATCHDOG_USEC, only for the pid systemd named', () => {
  const at = (env: NodeJS.ProcessEnv) => new SystemdNotifier({ env, pid: 4242 }).watchdogIntervalMs();
  assert.equal(at({ WATCHDOG_USEC: '30000000' }), 15_000);
  assert.equal(at({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' }), 15_000);
  assert.equal(at({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), null);
  assert.equal(at({ WATCHDOG_USEC: 'soon' }), null);
  assert.equal(at({}), null);
});

test('WatchdogGate pings only while frames flow (or while idle is allowed)', needs, async () => {
  const sock = await listen('gate.sock');
  try {
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: sock.socketPath, WATCHDOG_USEC: '10000000' } });
    const clock = new ManualClock();
    const gate = new WatchdogGate(n, clock);
    assert.equal(gate.start(), true);
    const pings = async () => {
      await n.flush();
      return sock.accepted().filter((m) => m === 'WATCHDOG=1').length;
    };
    clock.advance(5000);
    assert.equal(await pings(), 0, 'no frame yet: no ping');
    gate.frameProcessed(clock.now());
    clock.advance(5000);
    assert.equal(await pings(), 1);
    gate.frameProcessed(clock.now());
    clock.advance(5000);
    assert.equal(await pings(), 2);
    // The pipeline hangs: no more frames, so the pings stop and systemd would restart us.
    clock.advance(15_000);
    assert.equal(await pings(), 2);
    gate.idleOk(true);
    clock.advance(5000);
    assert.equal(await pings(), 3);
    gate.stop();
    clock.advance(20_000);
    assert.equal(await pings(), 3);
    await n.close();
    assert.equal(new WatchdogGate(new SystemdNotifier({ env: {} }), clock).start(), false);
  } finally {
    sock.close();
  }
});

test('the daemon under a fake systemd: READY after the first frames, watchdog pings while frames flow, STOPPING on the way out', needs, async () => {
  const sock = await listen('daemon.sock');
  try {
    const r = await runCli(
      ['run', '--config', path.join(ROOT, 'config/example.json'), '--camera', 'demo', '--gpio', 'console', '--no-mqtt', '--exit-after-ms', '5000'],
      { env: { NOTIFY_SOCKET: sock.socketPath, WATCHDOG_USEC: '1000000', MASKWATCH_STATE_DIR: path.join(dir, 'daemon-state') }, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const accepted = sock.accepted();
    assert.equal(accepted.filter((m) => m === 'READY=1').length, 1, accepted.join('\n'));
    const ready = accepted.indexOf('READY=1');
    const stopping = accepted.indexOf('STOPPING=1');
    assert.ok(stopping > ready && !accepted.slice(stopping).includes('WATCHDOG=1'), accepted.join('\n'));
    assert.ok(accepted.slice(ready, stopping).filter((m) => m === 'WATCHDOG=1').length >= 2, accepted.join('\n'));
    assert.ok(!/cannot notify systemd/.test(r.stderr), r.stderr);
  } finally {
    sock.close();
  }
});
