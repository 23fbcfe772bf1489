/**
 * A real Mosquitto broker for tests: a free loopback port, a temp config, persistence on,
 * stop (SIGTERM, or SIGKILL) and start again on the SAME port.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface BrokerOptions {
  /** user → password; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** The text of a Mosquitto ACL file (acl_file), e.g. the one in docs/FLEET.md. */
  acl?: string;
  /** More mosquitto.conf lines, after the listener's (e.g. a bridge). */
  extraConfig?: () => string[];
}

export class Mosquitto {
  port = 0;
  readonly dir: string;
  private proc: ChildProcess | null = null;
  private logText = '';
  private readonly clients: MqttClient[] = [];

  constructor(private readonly opts: BrokerOptions = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-mosquitto-'));
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** The broker's log so far (for debugging failed tests). */
  get log(): string {
    return this.logText;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      'persistence true',
      `persistence_location ${this.dir}/`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
    ];
    // Started as root, mosquitto would switch to the 'mosquitto' user, which cannot read our temp dir.
    if (process.getuid?.() === 0) lines.push('user root');
    if (this.opts.users) {
      const pwFile = path.join(this.dir, 'passwd');
      fs.writeFileSync(pwFile, '');
      for (const [user, pw] of Object.entries(this.opts.users)) execFileSync('mosquitto_passwd', ['-b', pwFile, user, pw]);
      lines.push('allow_anonymous false', `password_file ${pwFile}`);
    } else {
      lines.push('allow_anonymous true');
    }
    if (this.opts.acl !== undefined) {
      const aclFile = path.join(this.dir, 'acl');
      fs.writeFileSync(aclFile, this.opts.acl);
      lines.push(`acl_file ${aclFile}`);
    }
    if (this.opts.extraConfig) lines.push(...this.opts.extraConfig());
    const conf = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(conf, lines.join('\n') + '\n');
    const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (this.logText += d.toString()));
    this.proc = proc;
    await waitForPort(this.port, 5000);
  }

  /** SIGTERM saves persistent sessions (as a real broker restart does); SIGKILL loses them. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  }

  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  /** Ends every client made with client() (a failed test must not leave the process hanging), kills the broker. */
  async dispose(): Promise<void> {
    for (const c of this.clients) await c.endAsync(true).catch(() => undefined);
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** A plain MQTT.js client, connected. */
  async client(options: IClientOptions = {}): Promise<MqttClient> {
    const c = mqtt.connect(this.url, { reconnectPeriod: 100, connectTimeout: 2000, ...options });
    this.clients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    return c;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** Resolves when pred holds (polled), or rejects after timeoutMs naming what was awaited. */
export async function waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
