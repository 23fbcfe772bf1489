import type { Clock } from '../core/clock.js';
import { createLogger, errorMessage } from '../core/log.js';
import type { EventSink, FaceDetector, FrameSource, MaskClassifier, Signals, Tracker, DaemonState } from '../core/seams.js';
import type { ClassifiedFace, Frame } from '../core/types.js';
import { LIGHT_FOR } from '../signals/lights.js';
import { decodeImage } from '../vision/image-decode.js';
import { PipelineStats } from './stats.js';

const log = createLogger('pipeline');

export interface PipelineParts {
  source: FrameSource;
  detector: FaceDetector;
  /** A getter, so reload-model can swap the classifier between frames. */
  classifier: () => MaskClassifier;
  tracker: Tracker;
  signals: Signals;
  sink: EventSink;
  clock: Clock;
  /** Called after every processed frame (watchdog gate, first-frame readiness). */
  onFrameProcessed?: (now: number) => void;
  /** How many recent latencies the stats keep (the benchmark keeps them all). */
  latencyWindow?: number;
}

/**
 * One frame's way: newest JPEG → RGB → faces → verdicts → tracker → lights and events.
 * Frames that arrive while one is being processed are replaced by newer ones (counted by the source).
 */
export class Pipeline {
  readonly stats: PipelineStats;
  private running = false;
  private loop: Promise<void> | null = null;
  private lastState: DaemonState = { light: 'off', label: null, peopleInView: 0 };
  private pendingEvents = new Set<Promise<void>>();
  private frameErrors = 0;

  constructor(private readonly parts: PipelineParts) {
    this.stats = new PipelineStats(parts.clock.now(), parts.latencyWindow);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops taking frames; resolves once the frame in flight and the events it made are done. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.allSettled([...this.pendingEvents]);
  }

  get state(): DaemonState {
    return this.lastState;
  }

  private async run(): Promise<void> {
    const { source } = this.parts;
    while (this.running) {
      const encoded = await source.nextFrame();
      if (!encoded || !this.running) break;
      try {
        await this.process(encoded.jpeg, encoded.seq, encoded.capturedAt);
        this.frameErrors = 0;
      } catch (err) {
        // A corrupt frame or a failed inference loses that frame only.
        if (this.frameErrors++ % 100 === 0) log.warn(`frame ${encoded.seq} skipped: ${errorMessage(err)}`);
      }
    }
  }

  private async process(jpeg: Buffer, seq: number, capturedAt: number): Promise<void> {
    const { detector, tracker, signals, clock } = this.parts;
    const frame = await decodeFrame(jpeg, seq, capturedAt);
    const faces = await detector.detect(frame);
    const classifier = this.parts.classifier();
    const verdicts = faces.length ? await classifier.classifyFaces(frame, faces.map((f) => f.box)) : [];
    const classified: ClassifiedFace[] = faces.map((f, i) => ({ ...f, ...verdicts[i]! }));
    const now = clock.now();
    const update = tracker.update(now, classified);
    signals.show(update.showing);
    for (const decision of update.decided) {
      log.info(`person ${decision.trackId}: ${decision.label} (${decision.score.toFixed(2)}, ${decision.frames} frames)`);
      const p = this.parts.sink.publishEvent(decision, { name: classifier.info.name, sha256: classifier.info.sha256 });
      this.pendingEvents.add(p);
      p.catch((err) => log.error(`event for person ${decision.trackId} not stored: ${errorMessage(err)}`)).finally(() => this.pendingEvents.delete(p));
    }
    const state: DaemonState = { light: update.showing ? LIGHT_FOR[update.showing] : 'off', label: update.showing, peopleInView: update.inView };
    if (state.light !== this.lastState.light || state.label !== this.lastState.label || state.peopleInView !== this.lastState.peopleInView) {
      this.lastState = state;
      this.parts.sink.publishState(state);
    }
    this.stats.frameProcessed(clock.now() - capturedAt);
    this.parts.onFrameProcessed?.(clock.now());
  }
}

export async function decodeFrame(jpeg: Buffer, seq: number, capturedAt: number): Promise<Frame> {
  return { ...(await decodeImage(jpeg, `frame ${seq}`)), seq, capturedAt };
}
