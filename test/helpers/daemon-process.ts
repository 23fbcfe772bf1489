/**
 * The daemon as users run it, for fault-injection tests and the soak bench: `maskwatch run --camera demo --gpio console
 * --config <file>` as a child process (argument array, no shell), its stdout (the console lights) and stderr (the log)
 * kept apart, and what a persistent-session subscriber receives on its event topic, deduplicated by id.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { ROOT } from './cli.js';
import { waitFor } from './mosquitto.js';

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

const started: ChildProcess[] = [];
// A test that failed half way must not leave its daemon running: its test file would never end (CI would hang).
after(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** Kills `proc` after the test file's tests if it is still running then. */
export function killAfterTests(proc: ChildProcess): void {
  started.push(proc);
}

export class DaemonProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<DaemonExit>;
  private out = '';
  private err = '';

  /**
   * Writes `config` to `<dir>/<name>.json` and starts the daemon on it; `wrapper` runs it under another program
   * (e.g. `timeout`), which then is the child.
   */
  constructor(dir: string, name: string, config: Record<string, unknown>, opts: { args?: string[]; wrapper?: string[] } = {}) {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(config));
    const command = [process.execPath, path.join(ROOT, 'bin/maskwatch.js'), 'run', '--camera', 'demo', '--gpio', 'console', '--config', file, ...(opts.args ?? [])];
    const [program, ...args] = [...(opts.wrapper ?? []), ...command];
    this.proc = spawn(program!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    killAfterTests(this.proc);
    this.proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** stdout: the console GPIO's `[lights] …` lines. */
  get stdout(): string {
    return this.out;
  }

  /** stderr: the log. */
  get stderr(): string {
    return this.err;
  }

  /** Both, for assertion messages. */
  get output(): string {
    return `--- stderr\n${this.err}--- stdout (last 2000 chars)\n${this.out.slice(-2000)}`;
  }

  /** The colours the console lights showed, in order (`off` included). */
  lights(): string[] {
    return this.out
      .split('\n')
      .map((l) => /^(?:\S+ )?\[lights\] (\S+)/.exec(l)?.[1])
      .filter((c): c is string => !!c);
  }

  /** How many people the pipeline decided (`person N: label` log lines): every one is an event given to the outbox. */
  decided(): number {
    return (this.err.match(/ \[pipeline\] person \d+: /g) ?? []).length;
  }

  /** Sends SIGTERM (unless gone) and resolves with the exit. */
  async stop(): Promise<DaemonExit> {
    if (this.running) this.proc.kill('SIGTERM');
    return this.exited;
  }

  /** For after(): a daemon a failed test left behind must not keep the test process alive. */
  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }
}

/** The config the fault tests share: the demo clip looping, console lights without the start-up lamp test. */
export function daemonConfig(dir: string, deviceId: string, mqtt: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deviceId,
    stateDir: path.join(dir, deviceId),
    camera: { loop: true },
    signals: { lampTest: false },
    mqtt: { statsIntervalS: 0, homeAssistant: false, ...mqtt },
    ...extra,
  };
}

/** The seqs of the events still waiting in a state dir's outbox, ascending. */
export function outboxSeqs(stateDir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(stateDir, 'outbox'));
  } catch {
    return [];
  }
  return names
    .filter((f) => /^\d+\.json$/.test(f))
    .map((f) => Number.parseInt(f, 10))
    .sort((a, b) => a - b);
}

export interface DeliveredEvent {
  id: string;
  seq: number;
  label: string;
  ts: string;
}

/** Every message on a device's event topic, in arrival order; subscribe with a persistent session so nothing is missed. */
export class EventCollector {
  readonly received: DeliveredEvent[] = [];

  constructor(client: MqttClient, readonly topic: string) {
    client.on('message', (t, payload) => {
      if (t === topic) this.received.push(JSON.parse(payload.toString()) as DeliveredEvent);
    });
  }

  /** The first copy of each id, in arrival order. */
  unique(): DeliveredEvent[] {
    const seen = new Set<string>();
    return this.received.filter((e) => !seen.has(e.id) && (seen.add(e.id), true));
  }

  /** Copies beyond the first of an id (at-least-once delivery allows them; they are counted, not lost). */
  duplicates(): number {
    return this.received.length - this.unique().length;
  }

  /** Two different ids with the same seq: a seq used twice, never allowed. */
  reusedSeqs(): number[] {
    const bySeq = new Map<number, string>();
    const reused: number[] = [];
    for (const e of this.unique()) {
      if (bySeq.has(e.seq) && bySeq.get(e.seq) !== e.id) reused.push(e.seq);
      bySeq.set(e.seq, e.id);
    }
    return reused;
  }
}

/**
 * After the daemon stopped: every person it decided is an event delivered once by id or still waiting in its outbox;
 * delivered in seq order from 1 without a gap, the waiting ones following on, no seq used for two ids.
 */
export async function assertEveryEventOnce(events: EventCollector, daemon: DaemonProcess, stateDir: string): Promise<{ delivered: number; left: number }> {
  await waitFor('in-flight messages', () => events.unique().length + outboxSeqs(stateDir).length >= daemon.decided(), 5000).catch(() => undefined);
  const seqs = events.unique().map((e) => e.seq);
  const left = outboxSeqs(stateDir);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `delivered in seq order without a gap: ${seqs.join(',')}`);
  assert.deepEqual(left, left.map((_, i) => seqs.length + i + 1), 'what stayed in the outbox follows on');
  assert.equal(seqs.length + left.length, daemon.decided(), 'every decided person is an event, delivered or waiting');
  assert.deepEqual(events.reusedSeqs(), [], 'no seq carries two ids');
  return { delivered: seqs.length, left: left.length };
}
