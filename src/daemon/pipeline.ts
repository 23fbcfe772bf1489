/**
 * One frame's way: newest JPEG → RGB → faces → verdicts → tracker → the door state and the bus. The pipeline knows
 * no output: lights, MQTT, stats and the watchdog subscribe to what it emits. With someone in view it keeps one frame
 * in each stage: while frame N is classified and tracked here, frame N+1 is detected (in the detector's thread, see
 * threaded-detector.ts) and frame N+2 is taken and decoded (on sharp's pool). Frames that arrive meanwhile are
 * replaced by newer ones (counted by the source). While idle (idle-gate.ts) it takes one frame at a time, and most
 * stop at the gate or at a thumbnail; those still count as looked at (`frame.processed` with 0 faces) for the watchdog.
 */
import type { EventBus } from '../core/bus.js';
import type { Clock } from '../core/clock.js';
import type { DaemonEvents } from '../core/daemon-events.js';
import { createLogger, errorMessage } from '../core/log.js';
import type { FaceDetector, FrameSource, MaskClassifier, Tracker } from '../core/seams.js';
import type { ClassifiedFace, Face, Frame } from '../core/types.js';
import type { DoorState } from '../decision/door-state.js';
import { fusedVerdict } from '../decision/fuse-scores.js';
import { decodeGreyThumbnail, decodeImage, type GreyImage } from '../vision/image-decode.js';
import { IdleGate, type IdleCounts, type IdleOptions } from './idle-gate.js';
import { PipelineStats } from './stats.js';

const log = createLogger('pipeline');

export interface PipelineParts {
  source: FrameSource;
  detector: FaceDetector;
  classifier: MaskClassifier;
  tracker: Tracker;
  door: DoorState;
  bus: EventBus<DaemonEvents>;
  /** classifier.detectorScoreWeight: the detector's own mask / no-mask scores folded into each label. */
  fusionWeight?: number;
  clock: Clock;
  /** How many recent latencies the stats keep (the benchmark keeps them all). */
  latencyWindow?: number;
  /** Idle mode (detector.idleAfterS, detector.idleFps); absent or idleAfterMs 0: every frame in full. */
  idle?: IdleOptions;
}

/** A frame taken from the source and made ready for detection (or stopped at the idle gate, or undecodable). */
type Prepared =
  | { kind: 'frame'; seq: number; frame: Frame; thumb: GreyImage | null }
  | Undetected;
/** A frame that goes no further than the gate or its decode. */
type Undetected =
  | { kind: 'unchanged'; seq: number; capturedAt: number }
  | { kind: 'skipped'; seq: number }
  | { kind: 'failed'; seq: number; err: unknown };
/** A frame with its faces, ready to classify. */
type Detected = { kind: 'detected'; seq: number; frame: Frame; faces: Face[] } | Undetected;

export class Pipeline {
  readonly stats: PipelineStats;
  private running = false;
  private loop: Promise<void> | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  /** The detector's current call (never rejects): stop() waits for it, so the detector can be closed after. */
  private detectCall: Promise<unknown> = Promise.resolve();
  /** The next frame, taken and decoding while the one before it is detected. */
  private taken: Promise<Prepared | null> | null = null;
  private classifier: MaskClassifier;
  private frameErrors = 0;
  private readonly gate: IdleGate | null;
  private fullDecodes = 0;

  constructor(private readonly parts: PipelineParts) {
    this.stats = new PipelineStats(parts.clock.now(), parts.latencyWindow);
    this.classifier = parts.classifier;
    this.gate = parts.idle && parts.idle.idleAfterMs > 0 ? new IdleGate(parts.idle, parts.clock) : null;
  }

  /** Idle mode now, what it left undecoded, and how many frames were decoded in full. */
  get idleCounts(): IdleCounts & { fullDecodes: number } {
    return { ...(this.gate?.counts ?? { idle: false, skipped: 0, checked: 0, unchanged: 0 }), fullDecodes: this.fullDecodes };
  }

  /** The classifier the next frame will use. */
  get currentClassifier(): MaskClassifier {
    return this.classifier;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops taking frames; resolves once the frames in flight are done. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.detectCall;
  }

  /** Frames from now on use `next`; resolves to the previous classifier once no frame uses it any more (safe to close). */
  async useClassifier(next: MaskClassifier): Promise<MaskClassifier> {
    const previous = this.classifier;
    this.classifier = next;
    await this.inFlight;
    return previous;
  }

  private async run(): Promise<void> {
    let detecting: Promise<Detected | null> | null = null;
    while (this.running) {
      const current: Detected | null = await (detecting ?? this.detectNext());
      detecting = null;
      if (!current || !this.running) break;
      // Not while idle, where the gate admits a frame from the faces of the one before.
      if (!this.gate?.idle) {
        detecting = this.detectNext();
        // The crop and the classifier's run hold this thread: let the next frame reach the detector's thread first.
        if (this.parts.detector.ownThread) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      this.inFlight = this.finish(current);
      await this.inFlight;
    }
  }

  /** The next frame detected (never rejects: a failure is reported in frame order); the one after it is taken meanwhile. */
  private async detectNext(): Promise<Detected | null> {
    const prepared = await (this.taken ?? this.prepare());
    this.taken = null;
    if (!prepared) return null;
    if (this.running && !this.gate?.idle) this.taken = this.prepare();
    if (prepared.kind !== 'frame') return prepared;
    const call = this.parts.detector.detect(prepared.frame);
    this.detectCall = call.catch(() => undefined);
    try {
      const faces = await call;
      this.gate?.detected(faces.length, prepared.thumb);
      return { kind: 'detected', seq: prepared.seq, frame: prepared.frame, faces };
    } catch (err) {
      return { kind: 'failed', seq: prepared.seq, err };
    }
  }

  /** The newest frame, through the idle gate and decoded; never rejects (a failure is reported in frame order). */
  private async prepare(): Promise<Prepared | null> {
    const encoded = await this.parts.source.nextFrame();
    if (!encoded) return null;
    const { jpeg, seq, capturedAt } = encoded;
    try {
      const admission = this.gate?.admit() ?? 'process';
      if (admission === 'skip') return { kind: 'skipped', seq };
      let thumb: GreyImage | null = null;
      if (admission === 'check') {
        thumb = await decodeGreyThumbnail(jpeg, `frame ${seq}`);
        if (!this.gate!.changed(thumb)) return { kind: 'unchanged', seq, capturedAt };
      }
      const frame = await decodeFrame(jpeg, seq, capturedAt);
      this.fullDecodes++;
      return { kind: 'frame', seq, frame, thumb };
    } catch (err) {
      return { kind: 'failed', seq, err };
    }
  }

  private async finish(prepared: Detected): Promise<void> {
    try {
      if (prepared.kind === 'detected') await this.process(prepared.frame, prepared.faces);
      else if (prepared.kind === 'unchanged') {
        const at = this.parts.clock.now();
        this.parts.bus.emit('frame.processed', { seq: prepared.seq, at, latencyMs: at - prepared.capturedAt, faces: 0 });
      } else if (prepared.kind === 'failed') throw prepared.err;
      this.frameErrors = 0;
    } catch (err) {
      // A corrupt frame or a failed inference loses that frame only.
      if (this.frameErrors++ % 100 === 0) log.warn(`frame ${prepared.seq} skipped: ${errorMessage(err)}`);
    }
  }

  private async process(frame: Frame, faces: Face[]): Promise<void> {
    const { tracker, clock, bus, door, source } = this.parts;
    const { seq, capturedAt } = frame;
    const classifier = this.classifier;
    const verdicts = faces.length ? await classifier.classifyFaces(frame, faces.map((f) => f.box)) : [];
    const classified: ClassifiedFace[] = faces.map((f, i) => ({ ...f, ...fusedVerdict(verdicts[i]!, f.detectorScores, this.parts.fusionWeight ?? 0) }));
    const now = clock.now();
    const update = tracker.update(now, classified);
    const from = source.description;
    // Who left first: a person who took over the spot of one who left (tracker.newPersonAfterGapMs) comes after them.
    for (const end of update.left) {
      if (end.unsure) log.info(`person ${end.trackId} left undecided after ${end.frames} frames (median ${end.unsure.label} ${end.unsure.score.toFixed(2)}, below tracker.confidence): no light, no event`);
      bus.emit('person.left', { ...end, at: now, source: from });
    }
    for (const trackId of update.entered) bus.emit('person.entered', { trackId, at: now, source: from });
    for (const decision of update.decided) {
      log.info(`person ${decision.trackId}: ${decision.label} (${decision.score.toFixed(2)}, ${decision.frames} frames)`);
      bus.emit('person.decided', { decision, model: { name: classifier.info.name, sha256: classifier.info.sha256 }, source: from });
    }
    door.update(update.showing, update.inView);
    const done = clock.now();
    this.stats.frameProcessed(done - capturedAt);
    bus.emit('frame.processed', { seq, at: done, latencyMs: done - capturedAt, faces: faces.length });
  }
}

export async function decodeFrame(jpeg: Buffer, seq: number, capturedAt: number): Promise<Frame> {
  return { ...(await decodeImage(jpeg, `frame ${seq}`)), seq, capturedAt };
}
