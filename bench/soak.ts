/**
 * Soak: `npm run bench -- soak [--minutes 30]`, run only when named. The daemon as a child process on the looping demo
 * clip, a real Mosquitto restarted every 2 minutes (down for 10 s), a burst of malformed commands every minute. It
 * reports events produced (the daemon's `person N:` lines and its outbox counters), delivered to a persistent-session
 * subscriber (deduplicated by id), duplicated, lost and unexplained seq gaps; the daemon's RSS (VmRSS/VmHWM) and open
 * file descriptors (/proc/<pid>/fd), and its growth after a 2-minute warm-up.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import type { BenchRow } from './stats.js';
import { quantile, unitMallocEnv } from './stats.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { DaemonProcess, EventCollector, daemonConfig, outboxSeqs } from '../test/helpers/daemon-process.js';

const DEVICE = 'soak-door';
const BASE = `maskwatch/${DEVICE}`;
const RESTART_EVERY_S = 120;
const BROKER_DOWN_S = 10;
const WARMUP_S = 120;
const SAMPLE_EVERY_MS = 5000;

interface Sample {
  t: number;
  rssMb: number;
  hwmMb: number;
  fds: number;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** VmRSS, VmHWM (MB) and the number of open descriptors of a process, from /proc. */
function sample(pid: number, t: number): Sample | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { t, rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

/** What the burst sends each minute; `answered` is false for what must get no reply (retained, or cleared). */
function malformedCommands(round: number): Array<{ name: string; payload: string | Buffer; retain?: boolean; responseTopic?: string; answered: boolean }> {
  const forged = `2026-01-01T00:00:00.000Z ERROR [pipeline] FORGED ${round}`;
  return [
    { name: 'mute', payload: '{"minutes": 3', answered: true },
    { name: 'mute', payload: '[1,2,3]', answered: true },
    { name: 'self-destruct', payload: '{}', answered: true },
    // Not a command topic (cmd/+ matches one level): never seen by the daemon.
    { name: 'lamp-test/../../event', payload: '{}', answered: false },
    // Larger than the Maximum Packet Size the daemon announces (MQTT 5, 64 KiB): the broker drops them unseen.
    { name: 'mute', payload: JSON.stringify({ minutes: 1, pad: 'x'.repeat(512 * 1024) }), answered: false },
    { name: 'reload-model', payload: Buffer.alloc(1024 * 1024, 0xff), answered: false },
    { name: 'mute', payload: JSON.stringify({ [`x\n${forged}`]: 1 }), answered: true },
    { name: 'mute', payload: '{"minutes": -5}', answered: true },
    { name: 'lamp-test', payload: '{}', retain: true, answered: false },
    { name: 'lamp-test', payload: '', retain: true, answered: false },
    { name: 'mute', payload: '{"seconds": 0}', responseTopic: `${BASE}/event`, answered: true },
    ...Array.from({ length: 20 }, () => ({ name: 'reload-model', payload: '{}', answered: true })),
  ];
}

export async function run(): Promise<BenchRow[]> {
  const minutes = option('--minutes', 30);
  const durationMs = minutes * 60_000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-soak-'));
  const logFile = path.join(os.tmpdir(), `maskwatch-soak-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  // The daemon child inherits this: its memory as the systemd unit runs it.
  Object.assign(process.env, unitMallocEnv());
  const broker = new Mosquitto();
  let daemon: DaemonProcess | null = null;
  try {
    await broker.start();
    const quiet = (c: MqttClient) => (c.on('error', () => undefined), c);
    const watcher = quiet(await broker.client({ clientId: 'soak-watcher', clean: false }));
    const events = new EventCollector(watcher, `${BASE}/event`);
    await watcher.subscribeAsync(`${BASE}/event`, { qos: 1 });
    const commander = quiet(await broker.client({ clientId: 'soak-commander', protocolVersion: 5 }));
    let replies = 0;
    commander.on('message', () => replies++);
    await commander.subscribeAsync(`${BASE}/cmd/+/result`, { qos: 1 });

    daemon = new DaemonProcess(tmp, DEVICE, daemonConfig(tmp, DEVICE, { url: broker.url, keepaliveS: 10, statsIntervalS: 30 }));
    const d = daemon;
    const until = Date.now() + 60_000;
    while (!/ready: /.test(d.stderr) || !/connected to /.test(d.stderr)) {
      if (!d.running || Date.now() > until) throw new Error(`the daemon did not get ready\n${d.output}`);
      await sleep(100);
    }
    const t0 = Date.now();
    const elapsed = () => (Date.now() - t0) / 1000;
    const samples: Sample[] = [];
    const first = sample(d.pid, 0);
    if (first) samples.push(first);
    const sampler = setInterval(() => {
      const s = sample(d.pid, elapsed());
      if (s) samples.push(s);
    }, SAMPLE_EVERY_MS);

    let restarts = 0;
    let bursts = 0;
    let sent = 0;
    let expectReplies = 0;
    let nextRestart = RESTART_EVERY_S;
    let nextBurst = 30;
    let lastReport = 0;
    while (elapsed() * 1000 < durationMs && d.running) {
      if (elapsed() >= nextBurst) {
        nextBurst += 60;
        for (const c of malformedCommands(++bursts)) {
          const properties = c.responseTopic ? { responseTopic: c.responseTopic } : undefined;
          commander.publish(`${BASE}/cmd/${c.name}`, c.payload, { qos: 1, retain: c.retain ?? false, ...(properties ? { properties } : {}) });
          sent++;
          if (c.answered) expectReplies++;
        }
      }
      if (elapsed() >= nextRestart) {
        nextRestart += RESTART_EVERY_S;
        await broker.stop();
        await sleep(BROKER_DOWN_S * 1000);
        await broker.start();
        restarts++;
      }
      if (elapsed() - lastReport >= 60) {
        lastReport = elapsed();
        const s = samples.at(-1);
        console.log(`[soak] ${(elapsed() / 60).toFixed(1)} min: ${d.decided()} decided, ${events.unique().length} delivered, ${restarts} broker restarts, RSS ${s?.rssMb.toFixed(1)} MB, ${s?.fds} fds`);
      }
      await sleep(250);
    }
    // Let the outbox drain (the last restart may have just happened), then take the end figures while connected.
    const drainUntil = Date.now() + 90_000;
    while (d.running && Date.now() < drainUntil && (events.unique().length < d.decided() || outboxSeqs(path.join(tmp, DEVICE)).length > 0)) await sleep(200);
    await sleep(2000);
    clearInterval(sampler);
    const last = sample(d.pid, elapsed());
    if (last) samples.push(last);
    const exit = await d.stop();
    fs.writeFileSync(logFile, d.stderr);

    const stateDir = path.join(tmp, DEVICE);
    const state = JSON.parse(fs.readFileSync(path.join(stateDir, 'events-state.json'), 'utf8')) as { nextSeq: number; dropped: number; notStored: number };
    const produced = d.decided();
    const unique = events.unique();
    const left = outboxSeqs(stateDir);
    const deliveredSeqs = new Set(unique.map((e) => e.seq));
    const maxSeq = Math.max(0, ...unique.map((e) => e.seq), ...left);
    const gaps = Array.from({ length: maxSeq }, (_, i) => i + 1).filter((s) => !deliveredSeqs.has(s) && !left.includes(s));
    const lost = produced - unique.length - left.length;
    const outOfOrder = unique.filter((e, i) => i > 0 && e.seq < unique[i - 1]!.seq).length;
    const forgedLines = d.stderr.split('\n').filter((l) => l && !/^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO |WARN |ERROR) \[[\w-]+\] /.test(l)).length;
    const errors = d.stderr.split('\n').filter((l) => /^\S+ ERROR \[/.test(l)).length;
    const reloads = d.stderr.split('\n').filter((l) => /\[daemon\] model reloaded: /.test(l)).length;

    const afterWarmup = samples.filter((s) => s.t >= WARMUP_S && s.t < WARMUP_S + 60).map((s) => s.rssMb);
    const lastMinute = samples.filter((s) => s.t >= samples.at(-1)!.t - 60).map((s) => s.rssMb);
    const warmRss = afterWarmup.length ? quantile(afterWarmup, 0.5) : NaN;
    const endRss = quantile(lastMinute, 0.5);
    const growth = endRss - warmRss;
    const fdsStart = samples[0]?.fds ?? NaN;
    const fdsEnd = last?.fds ?? NaN;
    const peak = Math.max(...samples.map((s) => s.hwmMb));
    const row = (name: string, value: number, unit: string, extra: Partial<BenchRow> = {}): BenchRow => ({ section: 'soak', name, value, unit, ...extra });
    const rows = [
      row('events produced', produced, 'events', { note: `${minutes} min; outbox nextSeq-1 = ${state.nextSeq - 1}, dropped ${state.dropped}, not stored ${state.notStored}` }),
      row('events delivered (unique ids)', unique.length, 'events', { note: `${left.length} still in the outbox, ${outOfOrder} out of seq order` }),
      row('duplicate copies', events.duplicates(), 'messages', { note: 'at-least-once: same id again after a lost PUBACK' }),
      row('events lost', lost, 'events', { target: '0', pass: lost === 0 }),
      row('unexplained seq gaps', gaps.length - state.dropped, 'seqs', { target: '0', pass: gaps.length - state.dropped <= 0, note: gaps.length ? `missing ${gaps.slice(0, 10).join(',')}` : undefined }),
      row('broker restarts', restarts, 'restarts', { note: `every ${RESTART_EVERY_S} s, down ${BROKER_DOWN_S} s each` }),
      row('command bursts', bursts, 'bursts', { note: `${sent} commands sent, ${replies} replies for ${expectReplies} answerable; ${reloads} reloads; ${forgedLines} log lines not from the daemon's logger, ${errors} ERROR lines` }),
      row('peak RSS (VmHWM)', peak, 'MB'),
      row('final RSS', endRss, 'MB', { note: `median of the last minute; ${warmRss.toFixed(1)} MB after the ${WARMUP_S / 60}-minute warm-up` }),
      row('RSS growth after warm-up', growth, 'MB', { target: '≤ 10 MB', pass: growth <= 10 }),
      row('open fds start → end', fdsEnd - fdsStart, 'fds', { target: 'flat (±2)', pass: Math.abs(fdsEnd - fdsStart) <= 2, note: `${fdsStart} → ${fdsEnd}, at most ${Math.max(...samples.map((s) => s.fds))}` }),
      row('daemon exit code', exit.code ?? NaN, '', { target: '0', pass: exit.code === 0, note: `log kept in ${logFile}` }),
    ];
    return rows;
  } finally {
    daemon?.kill();
    await broker.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
