/**
 * sd_notify for Type=notify: READY=1, STATUS=…, WATCHDOG=1, STOPPING=1 to $NOTIFY_SOCKET.
 *
 * Node cannot send a unix datagram, and a native module would need a compiler (or a prebuilt binary
 * for every Pi) on the device, so each message is sent by `systemd-notify`, which ships with systemd,
 * spawned with an argument array, one at a time and in order. systemd takes a message from a child of
 * the main process only with NotifyAccess=all, which the unit sets.
 *
 * The known race: systemd matches a message to its unit through the sender's cgroup, and drops it if
 * the sender has already exited. systemd-notify since systemd 246 (Debian 11, Debian 12: 252, Ubuntu
 * 22.04) closes it: after its message it sends BARRIER=1 with a pipe and exits only once systemd has
 * read both. Older systems get a drop-in from scripts/install.sh instead (docs/SYSTEMD.md).
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
  /** The systemd-notify binary (found via PATH by default). */
  systemdNotifyPath?: string;
}

export class SystemdNotifier implements Notifier {
  private queue: Promise<void> = Promise.resolve();
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

  /** Resolves when every message so far has been read by systemd (or has failed). */
  flush(): Promise<void> {
    return this.queue;
  }

  /** Sends what is queued. */
  async close(): Promise<void> {
    await this.queue;
  }

  private send(message: string): void {
    const socketPath = this.env.NOTIFY_SOCKET;
    if (!socketPath) return;
    const bin = this.opts.systemdNotifyPath ?? 'systemd-notify';
    const env = { ...process.env, NOTIFY_SOCKET: socketPath };
    this.queue = this.queue.then(async () => {
      try {
        await runSystemdNotify(bin, message, env);
      } catch (err) {
        // Once is enough: the watchdog would repeat it every few seconds.
        if (this.failures++ === 0) log.warn(`cannot notify systemd at ${socketPath}: ${errorMessage(err)}`);
        else log.debug(`notify ${message.split('=')[0]} failed: ${errorMessage(err)}`);
      }
    });
  }
}

function runSystemdNotify(bin: string, assignment: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    // "--" so that a STATUS= text can never be read as an option.
    const child = spawn(bin, ['--', assignment], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => reject(new Error(`${bin}: ${errorMessage(err)}`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} exited with ${code}: ${stderr.trim()}`))));
  });
}
