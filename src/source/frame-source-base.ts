import type { Clock } from '../core/clock.js';
import type { EncodedFrame, FrameSource, SourceState, SourceStats } from '../core/seams.js';

/**
 * What every source shares: a one-slot mailbox (the newest frame wins; a frame
 * replaced before anybody took it is counted as dropped), the state and its listeners.
 */
export abstract class FrameSourceBase implements FrameSource {
  abstract readonly description: string;
  private slot: EncodedFrame | null = null;
  private waiters: Array<(frame: EncodedFrame | null) => void> = [];
  private listeners: Array<(state: SourceState, detail?: string) => void> = [];
  private current: SourceState = 'starting';
  private seq = 0;
  protected readonly counters: SourceStats = { received: 0, dropped: 0, restarts: 0 };

  constructor(protected readonly clock: Clock) {}

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  get state(): SourceState {
    return this.current;
  }

  onStateChange(listener: (state: SourceState, detail?: string) => void): void {
    this.listeners.push(listener);
  }

  stats(): SourceStats {
    return { ...this.counters };
  }

  nextFrame(): Promise<EncodedFrame | null> {
    if (this.slot) {
      const frame = this.slot;
      this.slot = null;
      return Promise.resolve(frame);
    }
    if (this.current === 'ended' || this.current === 'stopped') return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  protected deliver(jpeg: Buffer): void {
    const frame: EncodedFrame = { seq: ++this.seq, capturedAt: this.clock.now(), jpeg };
    this.counters.received++;
    const waiter = this.waiters.shift();
    if (waiter) return waiter(frame);
    if (this.slot) this.counters.dropped++;
    this.slot = frame;
  }

  protected setState(state: SourceState, detail?: string): void {
    if (state === this.current && detail === undefined) return;
    this.current = state;
    if (state === 'ended' || state === 'stopped') {
      // an untaken frame is still handed out; waiters get null
      for (const w of this.waiters.splice(0)) w(null);
    }
    for (const l of this.listeners) {
      try {
        l(state, detail);
      } catch {
        /* a listener's failure is not the source's */
      }
    }
  }
}
