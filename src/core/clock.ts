/** Time comes in from outside so tests control it. */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock time, for timestamps in events. */
  date(): Date;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: unknown };

export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => new Date(),
  setTimeout: (fn, ms) => ({ id: setTimeout(fn, ms) }),
  clearTimeout: (h) => clearTimeout(h.id as NodeJS.Timeout),
  setInterval: (fn, ms) => ({ id: setInterval(fn, ms) }),
  clearInterval: (h) => clearInterval(h.id as NodeJS.Timeout),
};

/** A clock for tests: time moves only when `advance` is called. */
export class ManualClock implements Clock {
  private current = 0;
  private nextId = 1;
  private timers = new Map<number, { at: number; fn: () => void; every?: number }>();

  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.current;
  }
  date(): Date {
    return new Date(this.epochMs + this.current);
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + ms, fn });
    return { id };
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id as number);
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + ms, fn, every: Math.max(1, ms) });
    return { id };
  }
  clearInterval(handle: TimerHandle): void {
    this.timers.delete(handle.id as number);
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let dueId = -1;
      let dueAt = Infinity;
      for (const [id, t] of this.timers) if (t.at <= end && t.at < dueAt) (dueId = id), (dueAt = t.at);
      if (dueId < 0) break;
      const timer = this.timers.get(dueId)!;
      this.current = timer.at;
      if (timer.every) timer.at += timer.every;
      else this.timers.delete(dueId);
      timer.fn();
    }
    this.current = end;
  }
}
