/**
 * sd_notify for Type=notify: READY=1, STATUS=…, WATCHDOG=1, STOPPING=1 to $NOTIFY_SOCKET.
 *
 * Sends with the optional native `unix-dgram` package from this process, so systemd accepts the
 * messages with NotifyAccess=main. Without it – or for an abstract socket ('@name'), which unix-dgram
 * cannot address (it copies the path with strncpy, so everything after the leading NUL is lost) – it
 * runs `systemd-notify`, which systemd only accepts with NotifyAccess=all (the sender is a child).
 * Without NOTIFY_SOCKET (not started by systemd) every call is a no-op.
 */
import { spawn } from 'node:child_process';
import { createLogger, errorMessage } from '../core/log.js';
import type { Notifier } from '../core/seams.js';

const log = createLogger('systemd');

export interface NotifierOptions {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** This process's pid, for the WATCHDOG_PID check (default process.pid). */
  pid?: number;
  /** auto: unix-dgram when installed, else systemd-notify. */
  transport?: 'auto' | 'systemd-notify';
  /** The systemd-notify binary (found via PATH by default). */
  systemdNotifyPath?: string;
}

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

type Transport = { kind: 'unix-dgram' | 'systemd-notify'; send(message: string): Promise<void>; close(): void };

export class SystemdNotifier implements Notifier {
  private queue: Promise<void> = Promise.resolve();
  private transport: Promise<Transport> | null = null;
  private failures = 0;

  constructor(private readonly opts: NotifierOptions = {}) {}

  private get env(): NodeJS.ProcessEnv {
    return this.opts.env ?? process.env;
  }

  /** True when systemd gave us a socket to talk to. */
  get enabled(): boolean {
    return !!this.env.NOTIFY_SOCKET;
  }

  ready(): void {
    this.send('READY=1');
  }
  status(text: string): void {
    this.send(`STATUS=${text.replace(/[\r\n]+/g, ' ')}`);
  }
  watchdog(): void {
    this.send('WATCHDOG=1');
  }
  stopping(): void {
    this.send('STOPPING=1');
  }

  /** Half the interval systemd asked for (WATCHDOG_USEC), if it asked this process (WATCHDOG_PID). */
  watchdogIntervalMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
    const pid = this.env.WATCHDOG_PID;
    if (pid && Number(pid) !== (this.opts.pid ?? process.pid)) return null;
    return Math.max(1, Math.floor(usec / 1000 / 2));
  }

  /** Which way messages go ('unix-dgram' or 'systemd-notify'), once one was sent; null before. */
  async transportKind(): Promise<Transport['kind'] | null> {
    return this.transport ? (await this.transport).kind : null;
  }

  /** Resolves when every message so far has been handed to the socket. */
  flush(): Promise<void> {
    return this.queue;
  }

  /** Sends what is queued, then closes the socket. */
  async close(): Promise<void> {
    await this.queue;
    if (this.transport) (await this.transport).close();
    this.transport = null;
  }

  private send(message: string): void {
    const socketPath = this.env.NOTIFY_SOCKET;
    if (!socketPath) return;
    this.transport ??= this.openTransport(socketPath);
    const transport = this.transport;
    this.queue = this.queue.then(async () => {
      try {
        await (await transport).send(message);
      } catch (err) {
        // Once per kind of trouble is enough: the watchdog would repeat it every few seconds.
        if (this.failures++ === 0) log.warn(`cannot notify systemd at ${socketPath}: ${errorMessage(err)}`);
        else log.debug(`notify ${message.split('=')[0]} failed: ${errorMessage(err)}`);
      }
    });
  }

  private async openTransport(socketPath: string): Promise<Transport> {
    if (this.opts.transport !== 'systemd-notify' && !socketPath.startsWith('@')) {
      const native = await loadUnixDgram();
      if (native) {
        const socket = native.createSocket('unix_dgram');
        socket.on('error', (err) => log.debug(`notify socket: ${errorMessage(err)}`));
        log.debug(`notifying systemd through ${socketPath} (unix-dgram)`);
        return {
          kind: 'unix-dgram',
          send: (message) =>
            new Promise<void>((resolve, reject) => {
              const buf = Buffer.from(message);
              socket.send(buf, 0, buf.length, socketPath, (err) => (err ? reject(err) : resolve()));
            }),
          close: () => socket.close(),
        };
      }
      log.info('unix-dgram is not installed: notifying systemd with systemd-notify (needs NotifyAccess=all in the unit)');
    }
    const bin = this.opts.systemdNotifyPath ?? 'systemd-notify';
    const env = { ...process.env, NOTIFY_SOCKET: socketPath };
    return { kind: 'systemd-notify', send: (message) => runSystemdNotify(bin, message.split('\n'), env), close: () => undefined };
  }
}

async function loadUnixDgram(): Promise<UnixDgramModule | null> {
  const name = 'unix-dgram';
  try {
    const mod = (await import(name)) as { default?: UnixDgramModule } & Partial<UnixDgramModule>;
    const api = mod.default ?? (mod as UnixDgramModule);
    return typeof api.createSocket === 'function' ? api : null;
  } catch {
    return null;
  }
}

function runSystemdNotify(bin: string, assignments: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, assignments, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => reject(new Error(`${bin}: ${errorMessage(err)}`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} exited with ${code}: ${stderr.trim()}`))));
  });
}
