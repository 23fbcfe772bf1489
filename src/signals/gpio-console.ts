import { systemClock, type Clock } from '../core/clock.js';
import type { GpioDriver } from '../core/seams.js';

/**
 * Machines without GPIO: one line per change of state, stamped like the log lines (ISO 8601, ms, UTC), e.g.
 * `2026-11-25T14:03:27.412Z [lights] GREEN  buzzer off`. Lines set in one go (a light switched from green to red, its
 * buzzer started with it) print as one line once they are all set, as a person at the door would see them, not as
 * the in-between states that last no time.
 */
export class ConsoleGpio implements GpioDriver {
  readonly name = 'console';
  private state = new Map<string, boolean>();
  private lastLine = '';
  private printPending = false;

  constructor(
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
    private readonly clock: Pick<Clock, 'date'> = systemClock,
  ) {}

  async open(lines: Record<string, number | string>): Promise<void> {
    this.state = new Map(Object.keys(lines).map((k) => [k, false]));
    this.lastLine = '';
    this.print();
  }

  set(line: string, on: boolean): void {
    if (!this.state.has(line) || this.state.get(line) === on) return;
    this.state.set(line, on);
    if (this.printPending) return;
    this.printPending = true;
    queueMicrotask(() => {
      if (this.printPending) this.print();
    });
  }

  async close(): Promise<void> {
    this.offSync();
    this.state.clear();
  }

  offSync(): void {
    if (this.printPending) this.print(); // the state the lines reached before going off
    for (const k of this.state.keys()) this.state.set(k, false);
    if (this.state.size > 0) this.print();
  }

  private print(): void {
    this.printPending = false;
    const lights = [...this.state].filter(([k, on]) => on && k !== 'buzzer').map(([k]) => k.toUpperCase());
    const buzzer = this.state.has('buzzer') ? `  buzzer ${this.state.get('buzzer') ? 'ON' : 'off'}` : '';
    const line = `[lights] ${lights.length ? lights.join('+') : 'off'}${buzzer}`;
    if (line === this.lastLine) return;
    this.lastLine = line;
    try {
      this.write(`${this.clock.date().toISOString()} ${line}`);
    } catch {
      /* stdout gone: nothing to tell */
    }
  }
}

/** signals.backend = none: lines exist for nobody. */
export class NullGpio implements GpioDriver {
  readonly name = 'none';
  async open(): Promise<void> {}
  set(): void {}
  async close(): Promise<void> {}
  offSync(): void {}
}
