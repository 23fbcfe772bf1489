import type { Clock, TimerHandle } from '../core/clock.js';
import type { MaskwatchConfig } from '../config/schema.js';
import type { GpioDriver, LightColour, Signals } from '../core/seams.js';
import type { Label } from '../core/types.js';
import { createLogger, errorMessage } from '../core/log.js';

const log = createLogger('lights');

const COLOURS: readonly LightColour[] = ['green', 'amber', 'red'];
const LAMP_TEST_MS = 300;
const CHIRP_MS = 80;

export interface LightsOptions {
  lines: { green: number | string | null; red: number | string | null; amber: number | string | null; buzzer: number | string | null };
  lampTest: boolean;
  /** on,off,on… ms per label; empty is silent. */
  patterns: Record<Label, number[]>;
  /** HH:MM local time, '' for none. */
  quietStart: string;
  quietEnd: string;
}

export function parsePattern(text: string): number[] {
  return text.trim() === '' ? [] : text.split(',').map((n) => Number(n.trim()));
}

export function lightsOptionsFromConfig(s: MaskwatchConfig['signals']): LightsOptions {
  return {
    lines: { green: s.green, red: s.red, amber: s.amber, buzzer: s.buzzer },
    lampTest: s.lampTest,
    patterns: { mask: parsePattern(s.buzzerMask), no_mask: parsePattern(s.buzzerNoMask), mask_incorrect: parsePattern(s.buzzerMaskIncorrect) },
    quietStart: s.quietStart,
    quietEnd: s.quietEnd,
  };
}

/** Is the local time of `date` within [start, end)? Works across midnight ("22:00"–"07:00"). */
export function inQuietHours(date: Date, start: string, end: string): boolean {
  if (!start || !end || start === end) return false;
  const toMin = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
  const m = date.getHours() * 60 + date.getMinutes();
  const s = toMin(start);
  const e = toMin(end);
  return s < e ? m >= s && m < e : m >= s || m < e;
}

/**
 * Green/red/amber lights (one at a time) and a buzzer over a GpioDriver. Which light is on is the door state's call
 * (src/decision/door-state.ts); the buzzer plays a label's pattern once per decided person; quiet hours and mute
 * silence the buzzer only. A lamp test borrows the lights and gives back the one that was on.
 */
export class Lights implements Signals {
  private lit: LightColour | null = null;
  private patternTimer: TimerHandle | null = null;
  private buzzing = false;
  private mutedUntil = 0;
  private testing = false;
  private running = false;
  private sleeps = new Map<TimerHandle, () => void>();

  constructor(
    private readonly driver: GpioDriver,
    private readonly opts: LightsOptions,
    private readonly clock: Clock,
  ) {}

  async start(): Promise<void> {
    const lines: Record<string, number | string> = {};
    for (const [name, line] of Object.entries(this.opts.lines)) if (line !== null) lines[name] = line;
    await this.driver.open(lines);
    this.running = true;
    if (this.opts.lampTest) void this.lampTest().catch((err) => log.warn(`lamp test: ${errorMessage(err)}`));
  }

  async stop(): Promise<void> {
    this.running = false;
    try {
      this.stopPattern();
    } catch (err) {
      log.warn(`stopping timers: ${errorMessage(err)}`);
    }
    try {
      for (const [handle, wake] of this.sleeps) {
        this.clock.clearTimeout(handle);
        wake();
      }
      this.sleeps.clear();
    } catch (err) {
      log.warn(`stopping the lamp test: ${errorMessage(err)}`);
    }
    try {
      for (const c of COLOURS) this.driver.set(c, false);
      this.driver.set('buzzer', false);
      this.lit = null;
    } catch (err) {
      log.warn(`turning lines off: ${errorMessage(err)}`);
    }
    try {
      await this.driver.close();
    } catch (err) {
      log.warn(`closing ${this.driver.name} GPIO: ${errorMessage(err)}`);
    }
  }

  /** The exit path: lines off now, synchronously. */
  offSync(): void {
    this.running = false;
    this.driver.offSync();
  }

  /** The light now on. */
  get light(): LightColour | 'off' {
    return this.lit ?? 'off';
  }

  setLight(light: LightColour | 'off'): void {
    if (this.running) this.applyLight(light === 'off' ? null : light);
  }

  buzz(label: Label): void {
    if (this.running) this.playPattern(this.opts.patterns[label]);
  }

  mute(ms: number): void {
    this.mutedUntil = ms > 0 ? this.clock.now() + ms : 0;
    if (ms > 0) this.stopPattern();
  }

  async lampTest(): Promise<void> {
    if (this.testing || !this.running) return;
    this.testing = true;
    try {
      for (const c of COLOURS) this.driver.set(c, false);
      if (this.buzzerAllowed()) this.playPattern([CHIRP_MS]);
      for (const c of COLOURS) {
        this.driver.set(c, true);
        await this.sleep(LAMP_TEST_MS);
        this.driver.set(c, false);
        if (!this.running) return;
      }
    } finally {
      this.testing = false;
      if (this.running) this.applyLight(this.lit, true);
    }
  }

  private applyLight(colour: LightColour | null, force = false): void {
    if (colour === this.lit && !force) return;
    this.lit = colour;
    if (this.testing) return;
    for (const c of COLOURS) if (c !== colour) this.driver.set(c, false);
    if (colour) this.driver.set(colour, true);
  }

  private buzzerAllowed(): boolean {
    if (this.opts.lines.buzzer === null) return false;
    if (this.clock.now() < this.mutedUntil) return false;
    return !inQuietHours(this.clock.date(), this.opts.quietStart, this.opts.quietEnd);
  }

  private playPattern(pattern: number[]): void {
    this.stopPattern();
    if (pattern.length === 0 || !this.buzzerAllowed()) return;
    const step = (i: number) => {
      this.patternTimer = null;
      if (i >= pattern.length) return this.setBuzzer(false);
      this.setBuzzer(i % 2 === 0);
      this.patternTimer = this.clock.setTimeout(() => step(i + 1), pattern[i]);
    };
    step(0);
  }

  private stopPattern(): void {
    if (this.patternTimer) this.clock.clearTimeout(this.patternTimer);
    this.patternTimer = null;
    this.setBuzzer(false);
  }

  private setBuzzer(on: boolean): void {
    if (on === this.buzzing) return;
    this.buzzing = on;
    this.driver.set('buzzer', on);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.clock.setTimeout(() => {
        this.sleeps.delete(handle);
        resolve();
      }, ms);
      this.sleeps.set(handle, resolve);
    });
  }
}
