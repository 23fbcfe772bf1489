import type { Clock, TimerHandle } from '../core/clock.js';
import { createLogger, errorMessage } from '../core/log.js';
import type { CommandName, CommandResult, EventSink, FaceDetector, FrameSource, MaskClassifier, Notifier, Signals, Tracker } from '../core/seams.js';
import { WatchdogGate } from '../system/watchdog.js';
import { Pipeline } from './pipeline.js';
import { readCpuTemperature } from './stats.js';

const log = createLogger('daemon');

export interface DaemonParts {
  source: FrameSource;
  detector: FaceDetector;
  classifier: MaskClassifier;
  /** Loads the classifier again from its model dir (reload-model); must throw without side effects on a bad model. */
  loadClassifier: () => Promise<MaskClassifier>;
  tracker: Tracker;
  signals: Signals;
  sink: EventSink;
  notifier: Notifier;
  clock: Clock;
  statsIntervalMs: number;
  watchdog: boolean;
}

/**
 * The kiosk daemon: starts the parts in order (sink, signals with lamp test, source, pipeline),
 * says READY once a frame went all the way through, and stops them in reverse, each step guarded.
 */
export class Daemon {
  private pipeline: Pipeline | null = null;
  private classifier: MaskClassifier;
  private statsTimer: TimerHandle | null = null;
  private watchdog: WatchdogGate | null = null;
  private readyAnnounced = false;
  private firstFrameSeen = false;
  private stopping: Promise<void> | null = null;
  private readonly firstFrame: Promise<void>;
  private resolveFirstFrame!: () => void;
  private readonly sourceEnded: Promise<void>;
  private resolveSourceEnded!: () => void;

  constructor(private readonly parts: DaemonParts) {
    this.classifier = parts.classifier;
    this.firstFrame = new Promise((resolve) => (this.resolveFirstFrame = resolve));
    this.sourceEnded = new Promise((resolve) => (this.resolveSourceEnded = resolve));
  }

  async start(): Promise<void> {
    const { sink, signals, source, clock, notifier } = this.parts;
    sink.onCommand((name, payload) => this.command(name, payload));
    await sink.start();
    await signals.start();
    source.onStateChange((state, detail) => {
      sink.publishCameraState(state, detail);
      // While the source retries on its own, the daemon is healthy: keep the watchdog fed.
      this.watchdog?.idleOk(state === 'retrying');
      if (state !== 'streaming') notifier.status(`camera ${state}${detail ? `: ${detail}` : ''}`);
      // Up without a camera is still up: READY so systemd does not time the start out.
      if (state === 'retrying') this.announceReady('camera away, retrying');
      if (state === 'ended') this.resolveSourceEnded();
    });
    await source.start();
    this.pipeline = new Pipeline({
      source,
      detector: this.parts.detector,
      classifier: () => this.classifier,
      tracker: this.parts.tracker,
      signals,
      sink,
      clock,
      onFrameProcessed: (now) => this.frameProcessed(now),
    });
    this.pipeline.start();
    if (this.parts.statsIntervalMs > 0) this.statsTimer = clock.setInterval(() => this.publishStats(), this.parts.statsIntervalMs);
    if (this.parts.watchdog) {
      this.watchdog = new WatchdogGate(notifier, clock);
      if (!this.watchdog.start()) this.watchdog = null;
    }
    log.info(`started: camera ${source.description}, model ${this.classifier.info.name} (${this.classifier.info.precision})`);
  }

  /** Resolves when the first frame has gone through the whole pipeline (READY=1 is sent then). */
  whenFirstFrame(): Promise<void> {
    return this.firstFrame;
  }

  /** Resolves when a non-looping file source has played to its end. */
  whenSourceEnded(): Promise<void> {
    return this.sourceEnded;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { notifier, source, signals, sink, detector, clock } = this.parts;
    const step = async (name: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        log.warn(`stop: ${name} failed: ${errorMessage(err)}`);
      }
    };
    await step('notify', () => notifier.stopping());
    await step('timers', () => {
      if (this.statsTimer) clock.clearInterval(this.statsTimer);
      this.watchdog?.stop();
    });
    await step('camera', () => source.stop());
    await step('pipeline', () => this.pipeline?.stop());
    await step('lights', () => signals.stop());
    // The retained state says what the door shows: after a stop, nothing.
    await step('state', () => sink.publishState({ light: 'off', label: null, peopleInView: 0 }));
    await step('mqtt', () => sink.stop());
    await step('detector', () => detector.close());
    await step('classifier', () => this.classifier.close());
    await step('notify', () => notifier.close());
    log.info('stopped');
  }

  /** WATCHDOG=1 goes out only while frames really flow (WatchdogGate): a hung pipeline gets the daemon restarted. */
  private frameProcessed(now: number): void {
    this.watchdog?.frameProcessed(now);
    if (!this.firstFrameSeen) {
      this.firstFrameSeen = true;
      this.resolveFirstFrame();
      this.announceReady('first frame processed');
    }
  }

  private announceReady(why: string): void {
    if (this.readyAnnounced) return;
    this.readyAnnounced = true;
    this.parts.notifier.ready();
    log.info(`ready: ${why}`);
  }

  private publishStats(): void {
    if (!this.pipeline) return;
    const { clock, source, sink, notifier } = this.parts;
    const now = clock.now();
    const s = source.stats();
    const rates = this.pipeline.stats.sample(now, s.received);
    sink.publishStats({
      framesInPerS: round(rates.inPerS),
      framesProcessedPerS: round(rates.processedPerS),
      droppedFrames: s.dropped,
      latencyP50Ms: round(this.pipeline.stats.latencyQuantile(0.5)),
      latencyP95Ms: round(this.pipeline.stats.latencyQuantile(0.95)),
      cpuTempC: readCpuTemperature(),
      rssMb: round(process.memoryUsage().rss / 2 ** 20),
      uptimeS: Math.round(this.pipeline.stats.uptimeS(now)),
      outboxDepth: sink.outboxDepth(),
      cameraState: source.state,
      cameraRestarts: s.restarts,
    });
    if (source.state === 'streaming') notifier.status(`${rates.processedPerS.toFixed(1)} frames/s processed, ${this.pipeline.state.peopleInView} in view`);
  }

  private async command(name: CommandName, payload: Record<string, unknown>): Promise<CommandResult> {
    switch (name) {
      case 'lamp-test':
        await this.parts.signals.lampTest();
        return { ok: true, message: 'lamp test done' };
      case 'mute': {
        const ms = muteMs(payload);
        if (ms === null) return { ok: false, message: 'mute needs {"minutes": n} or {"seconds": n} with n ≥ 0' };
        this.parts.signals.mute(ms);
        return { ok: true, message: ms ? `buzzer muted for ${Math.round(ms / 1000)} s` : 'buzzer un-muted' };
      }
      case 'reload-model': {
        let next: MaskClassifier;
        try {
          next = await this.parts.loadClassifier();
        } catch (err) {
          return { ok: false, message: `model not reloaded, still running ${this.classifier.info.name}: ${errorMessage(err)}` };
        }
        const previous = this.classifier;
        this.classifier = next;
        await previous.close().catch(() => undefined);
        log.info(`model reloaded: ${next.info.name} ${next.info.sha256.slice(0, 12)}`);
        return { ok: true, message: `model ${next.info.name} ${next.info.sha256.slice(0, 12)} loaded` };
      }
      default:
        return { ok: false, message: `unknown command ${String(name)}` };
    }
  }
}

function muteMs(payload: Record<string, unknown>): number | null {
  const { minutes, seconds } = payload;
  if (typeof minutes === 'number' && minutes >= 0 && Number.isFinite(minutes)) return minutes * 60_000;
  if (typeof seconds === 'number' && seconds >= 0 && Number.isFinite(seconds)) return seconds * 1000;
  if (minutes === undefined && seconds === undefined) return 15 * 60_000;
  return null;
}

const round = (v: number) => Math.round(v * 10) / 10;
