import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ManualClock } from '../src/core/clock.js';
import { SystemdNotifier } from '../src/system/notify.js';
import { WatchdogGate } from '../src/system/watchdog.js';

type UnixDgram = {
  createSocket(type: 'unix_dgram', listener: (msg: Buffer) => void): { bind(p: string): void; close(): void; on(e: string, l: (err: Error) => void): void };
};
let unixDgram: UnixDgram | null = null;
try {
  unixDgram = createRequire(import.meta.url)('unix-dgram') as UnixDgram;
} catch {
  // optional dependency not built here: the tests that bind a socket with it are skipped
}
const needsSocket = { skip: !unixDgram && 'unix-dgram is not installed' };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-notify-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A real unix datagram socket, as systemd opens it; collects what arrives. */
function listen(name: string) {
  const socketPath = path.join(dir, name);
  const received: string[] = [];
  const socket = unixDgram!.createSocket('unix_dgram', (msg) => received.push(msg.toString()));
  socket.on('error', (err) => assert.fail(err));
  socket.bind(socketPath);
  return { socketPath, received, close: () => socket.close() };
}

async function until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('unix-dgram transport: READY, STATUS, WATCHDOG, STOPPING arrive in order on the socket', needsSocket, async () => {
  const sock = listen('native.sock');
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: sock.socketPath } });
  n.ready();
  n.status('streaming\n12.5 frames/s');
  n.watchdog();
  n.stopping();
  await n.flush();
  await until('4 messages', () => sock.received.length >= 4);
  assert.deepEqual(sock.received, ['READY=1', 'STATUS=streaming 12.5 frames/s', 'WATCHDOG=1', 'STOPPING=1']);
  assert.equal(await n.transportKind(), 'unix-dgram');
  await n.close();
  sock.close();
});

test('systemd-notify fallback (argument array) reaches the same socket', needsSocket, async () => {
  const sock = listen('fallback.sock');
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: sock.socketPath }, transport: 'systemd-notify' });
  n.ready();
  n.status('camera retrying: "no device"; $(touch /tmp/x)');
  await n.flush();
  assert.equal(await n.transportKind(), 'systemd-notify');
  await until('2 messages', () => sock.received.filter((m) => !m.startsWith('BARRIER')).length >= 2);
  assert.deepEqual(sock.received.filter((m) => !m.startsWith('BARRIER')), ['READY=1', 'STATUS=camera retrying: "no device"; $(touch /tmp/x)']);
  sock.close();
});

test('an abstract socket (@name) is reached through systemd-notify', { skip: spawnSync('python3', ['-c', '1']).status !== 0 && 'python3 not available' }, async () => {
  const name = `@maskwatch-test-${process.pid}`;
  // Node cannot bind an abstract datagram socket; a few lines of Python can.
  const py = spawn('python3', ['-u', '-c', `import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1].replace('@','\\0',1)); print('bound', flush=True)
while True: print(s.recv(4096).decode().replace('\\n','|'), flush=True)`, name]);
  const lines: string[] = [];
  readline.createInterface({ input: py.stdout }).on('line', (l) => lines.push(l));
  try {
    await until('python bound', () => lines.includes('bound'), 20_000);
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: name } });
    n.watchdog();
    await n.flush();
    await until('WATCHDOG=1', () => lines.includes('WATCHDOG=1'));
  } finally {
    py.kill();
  }
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

test('WatchdogGate pings only while frames flow (or while idle is allowed)', needsSocket, async () => {
  const sock = listen('gate.sock');
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: sock.socketPath, WATCHDOG_USEC: '10000000' } });
  const clock = new ManualClock();
  const gate = new WatchdogGate(n, clock);
  assert.equal(gate.start(), true);
  const pings = async () => {
    await n.flush();
    await new Promise((r) => setTimeout(r, 20));
    return sock.received.filter((m) => m === 'WATCHDOG=1').length;
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
  sock.close();
  assert.equal(new WatchdogGate(new SystemdNotifier({ env: {} }), clock).start(), false);
});
