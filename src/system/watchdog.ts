import type { Clock, TimerHandle } from '../core/clock.js';
import type { Notifier } from '../core/seams.js';

/**
 * Sends WATCHDOG=1 every interval, but only when a frame was processed within the last interval:
 * a hung pipeline stops the pings and systemd restarts the daemon (Restart=on-failure covers watchdog).
 * While `idleOk` is set (the camera is away and its source retries on its own) pings continue
 * without frames, so an unplugged camera does not turn into a restart loop.
 */
export class WatchdogGate {
  private timer: TimerHandle | null = null;
  private lastFrameAt: number | null = null;
  private idle = false;
  private interval: number | null = null;

  constructor(
    private readonly notifier: Notifier,
    private readonly clock: Clock,
    /** Ping interval; default the notifier's watchdogIntervalMs() (half of WatchdogSec). */
    private readonly intervalMs?: number,
  ) {}

  /** Starts the timer; false (and nothing runs) when systemd did not ask for a watchdog. */
  start(): boolean {
    this.interval = this.intervalMs ?? this.notifier.watchdogIntervalMs();
    if (!this.interval) return false;
    this.timer = this.clock.setInterval(() => this.tick(), this.interval);
    return true;
  }

  stop(): void {
    if (this.timer) this.clock.clearInterval(this.timer);
    this.timer = null;
  }

  frameProcessed(now: number): void {
    this.lastFrameAt = now;
  }

  idleOk(ok: boolean): void {
    this.idle = ok;
  }

  private tick(): void {
    const now = this.clock.now();
    const fresh = this.lastFrameAt !== null && now - this.lastFrameAt <= this.interval!;
    if (fresh || this.idle) this.notifier.watchdog();
  }
}
