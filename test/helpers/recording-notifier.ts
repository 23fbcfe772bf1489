import type { Notifier } from '../../src/core/seams.js';

/** systemd as PID 1, which a test machine is not: records what the daemon would tell it. */
export class RecordingNotifier implements Notifier {
  readonly sent: string[] = [];
  constructor(private readonly watchdogMs: number | null = null) {}
  ready(): void {
    this.sent.push('READY=1');
  }
  status(text: string): void {
    this.sent.push(`STATUS=${text}`);
  }
  watchdog(): void {
    this.sent.push('WATCHDOG=1');
  }
  stopping(): void {
    this.sent.push('STOPPING=1');
  }
  watchdogIntervalMs(): number | null {
    return this.watchdogMs;
  }
  async close(): Promise<void> {}
}
