import type { Clock } from '../../src/core/clock.js';
import type { GpioDriver } from '../../src/core/seams.js';

export interface GpioEvent {
  t: number;
  line: string;
  on: boolean;
}

/** A GpioDriver that records every change with the clock's time. The allowed fake for GPIO lines. */
export class FakeGpio implements GpioDriver {
  readonly name = 'fake';
  readonly events: GpioEvent[] = [];
  readonly state = new Map<string, boolean>();
  opened: Record<string, number | string> | null = null;
  closed = false;
  offSyncCalls = 0;

  constructor(private readonly clock: Clock) {}

  async open(lines: Record<string, number | string>): Promise<void> {
    this.opened = { ...lines };
    for (const k of Object.keys(lines)) this.state.set(k, false);
  }

  set(line: string, on: boolean): void {
    if (!this.state.has(line) || this.closed) return;
    if (this.state.get(line) === on) return;
    this.state.set(line, on);
    this.events.push({ t: this.clock.now(), line, on });
  }

  async close(): Promise<void> {
    for (const k of this.state.keys()) this.set(k, false);
    this.closed = true;
  }

  offSync(): void {
    this.offSyncCalls++;
    for (const k of this.state.keys()) this.set(k, false);
  }

  /** Lines that are on now. */
  on(): string[] {
    return [...this.state].filter(([, v]) => v).map(([k]) => k);
  }

  /** Events of one line as [t, on] pairs. */
  of(line: string): Array<[number, boolean]> {
    return this.events.filter((e) => e.line === line).map((e) => [e.t, e.on]);
  }
}
