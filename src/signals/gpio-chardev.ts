import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { GpioDriver } from '../core/seams.js';
import { createLogger } from '../core/log.js';
import { KNOWN_HEADER_CHIPS } from './gpio-sysfs.js';

const log = createLogger('gpio');

export interface GpiodVersion {
  major: number;
  minor: number;
}

export function parseGpiodVersion(text: string): GpiodVersion | null {
  const m = /v?(\d+)\.(\d+)/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** `gpiodetect` lines: `gpiochip0 [pinctrl-rp1] (54 lines)` (v1 and v2 alike). */
export function parseGpiodetect(text: string): Array<{ name: string; label: string; lines: number }> {
  const chips: Array<{ name: string; label: string; lines: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+\[([^\]]*)\]\s+\((\d+) lines?\)/.exec(line.trim());
    if (m) chips.push({ name: m[1], label: m[2], lines: Number(m[3]) });
  }
  return chips;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 5000 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        reject(new Error(e.code === 'ENOENT' ? `${command}: not found` : `${command} ${args.join(' ')}: ${String(stderr).trim() || e.message}`));
      } else resolve(String(stdout));
    });
  });
}

export interface ChardevGpioOptions {
  gpiosetPath: string;
  /** gpiochipN, /dev/gpiochipN, a chip label, or "auto". */
  chip: string;
  activeLow: boolean;
  /** How long a fresh gpioset must stay up to count as holding its lines. */
  settleMs?: number;
}

/**
 * libgpiod through its `gpioset` tool (no native addon): one gpioset process holds the
 * lines. libgpiod ≥ 2.1: `gpioset -i` takes `set line=value` commands on stdin. Older
 * versions cannot change a value in a running process, so each change restarts it
 * (v1: --mode=signal). When the last holder exits the kernel releases the lines; their
 * level is then undefined (on a Pi it usually stays where it was), so close() sets them off first.
 */
export class ChardevGpio implements GpioDriver {
  readonly name = 'chardev';
  private version: GpiodVersion = { major: 2, minor: 1 };
  private chipArg: string | null = null;
  /** config key → the token gpioset knows the line by (offset or name). */
  private tokens = new Map<string, string>();
  private values = new Map<string, boolean>();
  private child: ChildProcess | null = null;
  private stderrTail = '';
  private restarting: Promise<void> | null = null;
  private dirty = false;
  private closing = false;

  constructor(private readonly opts: ChardevGpioOptions) {}

  private get interactive(): boolean {
    return this.version.major > 2 || (this.version.major === 2 && this.version.minor >= 1);
  }

  private tool(name: string): string {
    return this.opts.gpiosetPath.includes('/') ? path.join(path.dirname(this.opts.gpiosetPath), name) : name;
  }

  async open(lines: Record<string, number | string>): Promise<void> {
    this.closing = false;
    const version = parseGpiodVersion(await run(this.opts.gpiosetPath, ['--version']));
    if (!version) throw new Error(`gpio chardev: cannot tell the libgpiod version from '${this.opts.gpiosetPath} --version'`);
    this.version = version;
    await this.resolveLines(lines);
    for (const key of this.tokens.keys()) this.values.set(key, false);
    await this.spawnHolder();
  }

  set(line: string, on: boolean): void {
    if (!this.tokens.has(line) || this.values.get(line) === on || this.closing) return;
    this.values.set(line, on);
    if (this.interactive) {
      if (!this.child || this.child.exitCode !== null) {
        void this.spawnHolder().catch((err) => log.error(`gpioset: ${(err as Error).message}`));
        return;
      }
      this.child.stdin?.write(`set ${this.tokens.get(line)}=${this.raw(on)}\n`);
    } else {
      this.restartHolder();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const key of this.values.keys()) this.values.set(key, false);
    try {
      if (this.restarting) await this.restarting;
    } catch {
      /* a failed restart leaves nothing to stop */
    }
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      if (this.interactive && child.stdin?.writable) {
        child.stdin.write(`set ${this.assignments().join(' ')}\nexit\n`);
        child.stdin.end();
        await waitExit(child, 1000);
      } else {
        child.kill('SIGTERM');
        await waitExit(child, 1000);
        // set-and-exit: the lines end low, then are released
        await run(this.opts.gpiosetPath, this.oneShotArgs()).catch((err) => log.warn(`gpio chardev: setting lines off: ${(err as Error).message}`));
      }
    }
    this.tokens.clear();
    this.values.clear();
  }

  offSync(): void {
    try {
      this.child?.kill('SIGKILL');
    } catch {
      /* gone */
    }
    this.child = null;
    if (this.tokens.size === 0) return;
    for (const key of this.values.keys()) this.values.set(key, false);
    try {
      spawnSync(this.opts.gpiosetPath, this.oneShotArgs(), { timeout: 2000, stdio: 'ignore' });
    } catch {
      /* best effort on the way out */
    }
    this.tokens.clear();
  }

  private raw(on: boolean): string {
    return on !== this.opts.activeLow ? '1' : '0';
  }

  private assignments(): string[] {
    return [...this.tokens].map(([key, token]) => `${token}=${this.raw(this.values.get(key) ?? false)}`);
  }

  private holderArgs(): string[] {
    if (this.version.major < 2) return ['--mode=signal', this.chipArg ?? 'gpiochip0', ...this.assignments()];
    const chip = this.chipArg ? ['-c', this.chipArg] : [];
    return [...chip, ...(this.interactive ? ['-i'] : []), ...this.assignments()];
  }

  private oneShotArgs(): string[] {
    if (this.version.major < 2) return [this.chipArg ?? 'gpiochip0', ...this.assignments()];
    return [...(this.chipArg ? ['-c', this.chipArg] : []), '-t', '0', ...this.assignments()];
  }

  private async resolveLines(lines: Record<string, number | string>): Promise<void> {
    const named = Object.entries(lines).filter(([, v]) => typeof v === 'string' && !/^\d+$/.test(v));
    const found = new Map<string, string>();
    let chip = this.opts.chip;
    if (chip.startsWith('/dev/')) chip = path.basename(chip);
    if (named.length > 0 && this.version.major < 2) {
      // v1 cannot take names: gpiofind NAME → "gpiochip0 17"
      for (const [key, value] of Object.entries(lines)) {
        if (!named.some(([k]) => k === key)) continue;
        const where = (await run(this.tool('gpiofind'), [String(value)]).catch(() => '')).trim().split(/\s+/);
        if (where.length !== 2) throw new Error(`gpio chardev: signals.${key} = ${value}: no line of that name (gpiofind)`);
        if (chip === 'auto') chip = where[0];
        else if (where[0] !== chip && !/^gpiochip\d+$/.test(chip)) chip = where[0];
        found.set(key, where[1]);
      }
    }
    if (chip !== 'auto' && !/^gpiochip\d+$/.test(chip)) {
      const chips = parseGpiodetect(await run(this.tool('gpiodetect'), []));
      const byLabel = chips.find((c) => c.label === chip);
      if (!byLabel) throw new Error(`gpio chardev: no chip labelled '${chip}' (chips: ${chips.map((c) => `${c.name} [${c.label}]`).join(', ') || 'none'})`);
      chip = byLabel.name;
    } else if (chip === 'auto' && (named.length === 0 || this.version.major < 2)) {
      const chips = parseGpiodetect(await run(this.tool('gpiodetect'), []));
      const picked = chips.find((c) => KNOWN_HEADER_CHIPS.includes(c.label)) ?? chips[0];
      if (!picked) throw new Error('gpio chardev: gpiodetect lists no GPIO chip');
      chip = picked.name;
    }
    this.chipArg = chip === 'auto' ? null : chip;
    for (const [key, value] of Object.entries(lines)) this.tokens.set(key, found.get(key) ?? String(value));
  }

  /** Starts gpioset holding the current values; with `settle`, fails if it exits within settleMs (busy line, bad chip). */
  private spawnHolder(settle = true): Promise<void> {
    const child = spawn(this.opts.gpiosetPath, this.holderArgs(), { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child = child;
    this.stderrTail = '';
    child.stderr?.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-400)));
    child.stdin?.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('exit', early);
        child.on('exit', (code, signal) => {
          if (this.child === child && !this.closing && code !== 0 && !signal) log.error(`gpioset exited with code ${code}: ${this.stderrTail.trim()}`);
        });
        resolve();
      }, settle ? (this.opts.settleMs ?? 150) : 0);
      const early = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`gpio chardev: ${this.opts.gpiosetPath} ${this.holderArgs().join(' ')} exited (${code}): ${this.stderrTail.trim() || 'no message'}`));
      };
      child.once('exit', early);
      child.once('error', (err) => {
        clearTimeout(timer);
        child.off('exit', early);
        reject(new Error(`gpio chardev: ${this.opts.gpiosetPath}: ${err.message}`));
      });
    });
  }

  /** libgpiod < 2.1: a change means a new gpioset; changes during a restart coalesce into the next one. */
  private restartHolder(): void {
    if (this.restarting) {
      this.dirty = true;
      return;
    }
    this.restarting = (async () => {
      do {
        this.dirty = false;
        const old = this.child;
        if (old && old.exitCode === null && old.signalCode === null) {
          old.kill('SIGTERM');
          await waitExit(old, 1000);
        }
        if (this.closing) break;
        try {
          await this.spawnHolder(false);
        } catch (err) {
          log.error((err as Error).message);
          break;
        }
      } while (this.dirty && !this.closing);
    })().finally(() => {
      this.restarting = null;
    });
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
