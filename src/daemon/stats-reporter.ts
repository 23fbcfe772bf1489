/**
 * The daemon's numbers, sampled on a timer: the `stats` event (MQTT), STATUS= for systemd while the camera streams,
 * and a one-line health summary in the log every healthLogMs.
 */
import type { EventBus } from '../core/bus.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { DaemonEvents } from '../core/daemon-events.js';
import { createLogger } from '../core/log.js';
import type { DaemonStats, FrameSource, Notifier } from '../core/seams.js';
import { readCpuTemperature, type PipelineStats } from './stats.js';

const log = createLogger('health');

export interface StatsReporterParts {
  bus: EventBus<DaemonEvents>;
  clock: Clock;
  source: FrameSource;
  stats: PipelineStats;
  peopleInView: () => number;
  outboxDepth: () => number;
  notifier: Notifier;
  /** MQTT stats period; 0: no stats events (the health line still runs). */
  statsIntervalMs: number;
  healthLogMs: number;
  /** The precision and idle fields. */
  extra?: () => Pick<DaemonStats, 'precision' | 'idle' | 'idleSkippedFrames'>;
}

export class StatsReporter {
  private timer: TimerHandle | null = null;
  private lastHealthAt = 0;

  constructor(private readonly parts: StatsReporterParts) {}

  start(): void {
    const { statsIntervalMs, healthLogMs, clock } = this.parts;
    const tick = statsIntervalMs > 0 ? Math.min(statsIntervalMs, healthLogMs) : healthLogMs;
    this.lastHealthAt = clock.now();
    if (tick > 0) this.timer = clock.setInterval(() => this.sample(), tick);
  }

  stop(): void {
    if (this.timer) this.parts.clock.clearInterval(this.timer);
    this.timer = null;
  }

  /** Samples now (also used by tests and the benchmark). */
  sample(): DaemonStats {
    const { clock, source, stats, bus, notifier } = this.parts;
    const now = clock.now();
    const s = source.stats();
    const rates = stats.sample(now, s.received);
    const current: DaemonStats = {
      framesInPerS: round(rates.inPerS),
      framesProcessedPerS: round(rates.processedPerS),
      droppedFrames: s.dropped,
      latencyP50Ms: round(stats.latencyQuantile(0.5)),
      latencyP95Ms: round(stats.latencyQuantile(0.95)),
      cpuTempC: readCpuTemperature(),
      rssMb: round(process.memoryUsage().rss / 2 ** 20),
      uptimeS: Math.round(stats.uptimeS(now)),
      outboxDepth: this.parts.outboxDepth(),
      cameraState: source.state,
      cameraRestarts: s.restarts,
      ...this.parts.extra?.(),
    };
    if (this.parts.statsIntervalMs > 0) bus.emit('stats', current);
    if (source.state === 'streaming') notifier.status(`${current.framesProcessedPerS.toFixed(1)} frames/s processed, ${this.parts.peopleInView()} in view`);
    if (now - this.lastHealthAt >= this.parts.healthLogMs - 1) {
      this.lastHealthAt = now;
      log.info(healthLine(current));
    }
    return current;
  }
}

export function healthLine(s: DaemonStats): string {
  const temp = s.cpuTempC === null ? '' : `, CPU ${s.cpuTempC} °C`;
  return (
    `camera ${s.cameraState} (${s.cameraRestarts} restarts): ${s.framesInPerS} frames/s in, ${s.framesProcessedPerS} processed, ${s.droppedFrames} dropped; ` +
    `latency p50 ${s.latencyP50Ms} ms, p95 ${s.latencyP95Ms} ms; outbox ${s.outboxDepth}; RSS ${s.rssMb} MB${temp}; up ${s.uptimeS} s`
  );
}

const round = (v: number) => Math.round(v * 10) / 10;
