/**
 * The kiosk daemon: starts the parts in order (sink, signals with lamp test, outputs, source, pipeline), says READY once
 * a frame went all the way through (or the camera is away and retrying), and stops them in reverse, each step guarded:
 * lights off and the retained state `off` before the broker connection closes.
 */
import { EventBus } from '../core/bus.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { DaemonEvents } from '../core/daemon-events.js';
import type { MuteChanged } from '../core/person-events.js';
import { createLogger, errorMessage } from '../core/log.js';
import type { CommandName, CommandResult, EventSink, FaceDetector, FrameSource, MaskClassifier, Notifier, PrecisionReport, Signals, SourceState, Tracker } from '../core/seams.js';
import { DoorState } from '../decision/door-state.js';
import { WatchdogGate } from '../system/watchdog.js';
import type { IdleOptions } from './idle-gate.js';
import { LightsOutput, MqttOutput } from './outputs.js';
import { Pipeline } from './pipeline.js';
import { StatsReporter } from './stats-reporter.js';

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
  /** The light stays on this long after the last decided person left view. */
  holdMs: number;
  /** classifier.detectorScoreWeight. */
  fusionWeight?: number;
  statsIntervalMs: number;
  /** detector.idleAfterS / idleFps (idle-gate.ts); absent: every frame in full. */
  idle?: IdleOptions;
  /** Which detector file runs and why (stats). */
  detectorPrecision?: PrecisionReport;
  /** How often the one-line health summary is logged. */
  healthLogMs?: number;
  watchdog: boolean;
}

export class Daemon {
  /** Everything the pipeline tells its outputs; tests and the benchmark may subscribe too. */
  readonly bus = new EventBus<DaemonEvents>();
  readonly door: DoorState;
  private pipeline: Pipeline | null = null;
  private readonly outputs: Array<LightsOutput | MqttOutput>;
  private reporter: StatsReporter | null = null;
  private watchdog: WatchdogGate | null = null;
  private readyAnnounced = false;
  private muteTimer: TimerHandle | null = null;
  private mute: MuteChanged = { muted: false, until: null };
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly firstFrame: Promise<void>;
  private readonly sourceEnded: Promise<void>;
  private resolveSourceEnded!: () => void;

  constructor(private readonly parts: DaemonParts) {
    this.door = new DoorState(parts.clock, parts.holdMs, (state) => this.bus.emit('state.changed', state));
    this.outputs = [new LightsOutput(this.bus, parts.signals), new MqttOutput(this.bus, parts.sink)];
    this.firstFrame = new Promise((resolve) => {
      const off = this.bus.on('frame.processed', 'readiness', () => {
        off();
        resolve();
        this.announceReady('first frame processed');
      });
    });
    this.sourceEnded = new Promise((resolve) => (this.resolveSourceEnded = resolve));
  }

  /** Starts the parts in order; a stop() meanwhile waits for this, and this skips what is left once a stop began. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { sink, signals, source, clock, notifier } = this.parts;
    sink.onCommand((name, payload) => this.command(name, payload));
    await sink.start();
    await signals.start();
    if (this.stopping) return;
    for (const o of this.outputs) o.start();
    // Replaces the door and mute states retained by an earlier run that did not stop cleanly (a crash, a power cut):
    // nobody is in view yet and the lights are off (a mute command may already have come in meanwhile).
    this.bus.emit('state.changed', this.door.state);
    this.bus.emit('mute.changed', this.mute);
    // The state before the source starts (`starting`) goes out as a change, but the `started:` line says it for the log.
    let loggedState: SourceState | null = source.state;
    const cameraChanged = (state: SourceState, detail?: string) => {
      // One log line per change of state (the source puts its reason and retry plan in detail, it logs nothing
      // itself); another failed retry while already retrying goes to debug.
      const line = `camera ${state}${detail ? `: ${detail}` : ''}`;
      if (state === loggedState) log.debug(line);
      else (state === 'retrying' ? log.warn : log.info)(line);
      loggedState = state;
      this.bus.emit('camera.changed', { state, detail });
      notifier.status(line);
      // Up without a camera is still up: READY so systemd does not time the start out.
      if (state === 'retrying') this.announceReady('camera away, retrying');
      if (state === 'ended') this.resolveSourceEnded();
    };
    source.onStateChange(cameraChanged);
    // The state the source is in before it starts (`starting`) replaces a retained camera state of an earlier run.
    cameraChanged(source.state);
    if (this.parts.watchdog) {
      const gate = new WatchdogGate(notifier, clock);
      if (gate.start()) {
        this.watchdog = gate;
        this.bus.on('frame.processed', 'watchdog', (f) => gate.frameProcessed(f.at));
        // While the source retries on its own, the daemon is healthy: keep the watchdog fed.
        this.bus.on('camera.changed', 'watchdog', (c) => gate.idleOk(c.state === 'retrying'));
      }
    }
    if (this.stopping) return;
    await source.start();
    const pipeline = new Pipeline({ source, detector: this.parts.detector, classifier: this.parts.classifier, tracker: this.parts.tracker, door: this.door, bus: this.bus, clock, fusionWeight: this.parts.fusionWeight, idle: this.parts.idle });
    this.pipeline = pipeline;
    pipeline.start();
    this.reporter = new StatsReporter({
      bus: this.bus,
      clock,
      source,
      stats: pipeline.stats,
      peopleInView: () => this.door.state.peopleInView,
      outboxDepth: () => sink.outboxDepth(),
      notifier,
      statsIntervalMs: this.parts.statsIntervalMs,
      healthLogMs: this.parts.healthLogMs ?? 10 * 60_000,
      extra: () => {
        const idle = pipeline.idleCounts;
        const classifier = pipeline.currentClassifier.info.precisionReport;
        const detector = this.parts.detectorPrecision;
        return { ...(classifier && detector ? { precision: { classifier, detector } } : {}), idle: idle.idle, idleSkippedFrames: idle.skipped + idle.unchanged };
      },
    });
    this.reporter.start();
    const c = this.parts.classifier.info;
    const d = this.parts.detectorPrecision;
    const why = (r: PrecisionReport | undefined) => (r && r.setting === 'auto' ? `: ${r.reason}` : '');
    log.info(`started: camera ${source.description}, classifier ${c.name} ${c.precision}${why(c.precisionReport)}; detector ${d?.running ?? ''}${why(d)}`);
  }

  /** Resolves when the first frame has gone through the whole pipeline (READY=1 is sent then). */
  whenFirstFrame(): Promise<void> {
    return this.firstFrame;
  }

  /** Resolves when a non-looping file source has played to its end. */
  whenSourceEnded(): Promise<void> {
    return this.sourceEnded;
  }

  /** The stats as the next `stats` message would carry them (null before start). */
  sampleStats() {
    return this.reporter?.sample() ?? null;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** The exit path: every GPIO line off now, synchronously. */
  offSync(): void {
    this.parts.signals.offSync();
  }

  private async doStop(): Promise<void> {
    const { notifier, source, signals, sink, detector } = this.parts;
    await this.starting?.catch(() => undefined);
    const step = async (name: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        log.warn(`stop: ${name} failed: ${errorMessage(err)}`);
      }
    };
    await step('notify', () => notifier.stopping());
    await step('timers', () => {
      this.reporter?.stop();
      this.watchdog?.stop();
      if (this.muteTimer) this.parts.clock.clearTimeout(this.muteTimer);
      this.muteTimer = null;
    });
    await step('camera', () => source.stop());
    await step('pipeline', () => this.pipeline?.stop());
    // The door shows nothing from here on: lights off, and the retained state says so before MQTT closes.
    await step('door', () => this.door.stop());
    for (const o of this.outputs) await step('outputs', () => o.stop());
    await step('lights', () => signals.stop());
    await step('mqtt', () => sink.stop());
    await step('detector', () => detector.close());
    await step('classifier', () => (this.pipeline?.currentClassifier ?? this.parts.classifier).close());
    await step('notify', () => notifier.close());
    log.info('stopped');
  }

  private announceReady(why: string): void {
    if (this.readyAnnounced) return;
    this.readyAnnounced = true;
    this.parts.notifier.ready();
    log.info(`ready: ${why}`);
  }

  /** Runs one command; the command router hands them over one at a time. */
  async command(name: CommandName, payload: Record<string, unknown>): Promise<CommandResult> {
    switch (name) {
      case 'lamp-test':
        await this.parts.signals.lampTest();
        return { ok: true, message: 'lamp test done' };
      case 'mute': {
        const ms = muteMs(payload);
        if (ms === null) return { ok: false, message: 'mute needs {"minutes": n} or {"seconds": n} with n ≥ 0' };
        this.parts.signals.mute(ms);
        this.muteChanged(ms);
        return { ok: true, message: ms ? `buzzer muted for ${Math.round(ms / 1000)} s` : 'buzzer un-muted' };
      }
      case 'reload-model':
        return this.reloadModel();
      default:
        return { ok: false, message: `unknown command ${JSON.stringify(String(name))}` };
    }
  }

  /** Tells the outputs (the retained MQTT mute state), and again when the mute runs out. */
  private muteChanged(ms: number): void {
    const { clock } = this.parts;
    if (this.muteTimer) clock.clearTimeout(this.muteTimer);
    this.muteTimer = null;
    if (ms > 0)
      this.muteTimer = clock.setTimeout(() => {
        this.muteTimer = null;
        this.setMute({ muted: false, until: null });
      }, ms);
    this.setMute({ muted: ms > 0, until: ms > 0 ? new Date(clock.date().getTime() + ms) : null });
  }

  private setMute(mute: MuteChanged): void {
    this.mute = mute;
    this.bus.emit('mute.changed', mute);
  }

  private async reloadModel(): Promise<CommandResult> {
    const pipeline = this.pipeline;
    const running = pipeline?.currentClassifier ?? this.parts.classifier;
    let next: MaskClassifier;
    try {
      next = await this.parts.loadClassifier();
    } catch (err) {
      return { ok: false, message: `model not reloaded, still running ${running.info.name}: ${errorMessage(err)}` };
    }
    if (!pipeline) {
      await next.close();
      return { ok: false, message: 'not running yet' };
    }
    // The old classifier is closed only once the frame that may still use it is done.
    const previous = await pipeline.useClassifier(next);
    await previous.close().catch(() => undefined);
    log.info(`model reloaded: ${next.info.name} ${next.info.sha256.slice(0, 12)}`);
    return { ok: true, message: `model ${next.info.name} ${next.info.sha256.slice(0, 12)} loaded` };
  }
}

function muteMs(payload: Record<string, unknown>): number | null {
  const { minutes, seconds } = payload;
  if (typeof minutes === 'number' && minutes >= 0 && Number.isFinite(minutes)) return minutes * 60_000;
  if (typeof seconds === 'number' && seconds >= 0 && Number.isFinite(seconds)) return seconds * 1000;
  if (minutes === undefined && seconds === undefined) return 15 * 60_000;
  return null;
}

