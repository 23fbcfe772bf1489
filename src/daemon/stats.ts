import fs from 'node:fs';

/** Rolling numbers for the stats topic and STATUS=: frame rates over a window and latency quantiles. */
export class PipelineStats {
  private readonly latencies: number[] = [];
  private processed = 0;
  private lastProcessed = 0;
  private lastReceived = 0;
  private lastAt: number;
  private rates = { inPerS: 0, processedPerS: 0 };

  constructor(
    private readonly startedAt: number,
    private readonly window = 300,
  ) {
    this.lastAt = startedAt;
  }

  frameProcessed(latencyMs: number): void {
    this.processed++;
    this.latencies.push(latencyMs);
    if (this.latencies.length > this.window) this.latencies.shift();
  }

  get processedFrames(): number {
    return this.processed;
  }

  /** Recomputes frame rates since the previous call. */
  sample(now: number, receivedTotal: number): { inPerS: number; processedPerS: number } {
    const dt = (now - this.lastAt) / 1000;
    if (dt > 0.2) {
      this.rates = {
        inPerS: (receivedTotal - this.lastReceived) / dt,
        processedPerS: (this.processed - this.lastProcessed) / dt,
      };
      this.lastAt = now;
      this.lastReceived = receivedTotal;
      this.lastProcessed = this.processed;
    }
    return this.rates;
  }

  latencyQuantile(q: number): number {
    if (!this.latencies.length) return 0;
    const s = [...this.latencies].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  }

  uptimeS(now: number): number {
    return (now - this.startedAt) / 1000;
  }
}

/** CPU temperature in °C where the kernel exposes it (Pi, Jetson), else null. */
export function readCpuTemperature(file = '/sys/class/thermal/thermal_zone0/temp'): number | null {
  try {
    const milli = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
  } catch {
    return null;
  }
}
