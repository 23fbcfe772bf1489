/**
 * The daemon's seams. Each has one real implementation and, where this machine
 * cannot run the real part, one fake. Constructors only store their arguments;
 * start() does the work; stop() undoes it.
 */
import type { MuteChanged, PersonDecided, PersonEntered, PersonLeft } from './person-events.js';
import type { Box, ClassifiedFace, Decision, Face, Frame, Label, Verdict } from './types.js';

// ---------- frame source ----------
/** One JPEG as it came from the camera process, not yet decoded. */
export interface EncodedFrame {
  seq: number;
  /** Monotonic ms (the source's clock) when the last byte arrived. */
  capturedAt: number;
  jpeg: Buffer;
}
export type SourceState = 'starting' | 'streaming' | 'retrying' | 'ended' | 'stopped';
export interface SourceStats {
  received: number;
  /** Frames replaced by a newer one before anybody took them. */
  dropped: number;
  restarts: number;
}
export interface FrameSource {
  readonly description: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The newest frame not yet taken; waits for one. Older untaken frames are dropped and counted. null once stopped or ended. */
  nextFrame(): Promise<EncodedFrame | null>;
  readonly state: SourceState;
  onStateChange(listener: (state: SourceState, detail?: string) => void): void;
  stats(): SourceStats;
}

// ---------- vision ----------
export interface FaceDetector {
  readonly inputSize: number;
  /**
   * True where detect() hands the frame to a thread of its own and returns at once: the pipeline then hands the next
   * frame over before it crops and classifies the current one on this thread.
   */
  readonly ownThread?: boolean;
  /** Faces at least the configured minimum size, best first. */
  detect(frame: Frame): Promise<Face[]>;
  close(): Promise<void>;
}
export interface ClassifierInfo {
  name: string;
  sha256: string;
  inputSize: number;
  labels: readonly Label[];
  precision: 'float' | 'int8';
  /** Why this precision runs (config, or what `auto` measured); published in stats. */
  precisionReport?: PrecisionReport;
}
export interface MaskClassifier {
  readonly info: ClassifierInfo;
  /** Crops each box (with the configured margin) from the frame and classifies it. */
  classifyFaces(frame: Frame, boxes: Box[]): Promise<Verdict[]>;
  close(): Promise<void>;
}

// ---------- decision ----------
/** A person who left on this update (unseen for lostAfterMs). */
export interface TrackEnd {
  trackId: number;
  label: Label | null;
  frames: number;
  durationMs: number;
  /** Left undecided: the median's best label, whose score stayed below the confidence needed. */
  unsure?: { label: Label; score: number };
}
export interface TrackerUpdate {
  /** People who became one on this update: a face seen in tracker.minFrames frames gets its id then. */
  entered: number[];
  /** Tracks decided on this update: one per person, never repeated for the same track. */
  decided: Decision[];
  left: TrackEnd[];
  /** People currently in view (decided or not); faces not yet seen in minFrames frames do not count. */
  inView: number;
  /** The most severe decided label in view (no_mask > mask_incorrect > mask), or null. */
  showing: Label | null;
}
export interface Tracker {
  update(now: number, faces: ClassifiedFace[]): TrackerUpdate;
}

// ---------- signals ----------
export type LightColour = 'green' | 'red' | 'amber';
/** A GPIO output line, as the signals need it. */
export interface GpioDriver {
  readonly name: string;
  /** Claims the named lines as outputs, all off. */
  open(lines: Record<string, number | string>): Promise<void>;
  set(line: string, on: boolean): void;
  /** Sets every line off and releases them. */
  close(): Promise<void>;
  /** The exit path (process 'exit', uncaught exception): every line off or released NOW, synchronously; never throws. */
  offSync(): void;
}
export interface Signals {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The light that is on: one colour or none (the door state decides which, src/decision/door-state.ts). */
  setLight(light: LightColour | 'off'): void;
  /** Plays a label's buzzer pattern once (unless muted or in quiet hours). */
  buzz(label: Label): void;
  /** Silences the buzzer for ms (0 un-mutes). */
  mute(ms: number): void;
  lampTest(): Promise<void>;
  /** The exit path: every line off now, synchronously; never throws. */
  offSync(): void;
}

// ---------- events ----------
export interface DaemonState {
  light: LightColour | 'off';
  label: Label | null;
  peopleInView: number;
}
/** Which model file runs and why: set in the config, or chosen by `auto` from two measured medians (ms, else null). */
export interface PrecisionReport {
  setting: 'auto' | 'float' | 'int8';
  running: 'float' | 'int8';
  reason: string;
  floatMs: number | null;
  int8Ms: number | null;
}
export interface DaemonStats {
  framesInPerS: number;
  framesProcessedPerS: number;
  droppedFrames: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  cpuTempC: number | null;
  rssMb: number;
  uptimeS: number;
  outboxDepth: number;
  cameraState: SourceState;
  cameraRestarts: number;
  /** The classifier's and the detector's precision and why (the daemon always sets it). */
  precision?: { classifier: PrecisionReport; detector: PrecisionReport };
  /** Idle mode (detector.idleAfterS): idle now, and frames left undecoded or found unchanged since the start. */
  idle?: boolean;
  idleSkippedFrames?: number;
}
export type CommandName = 'lamp-test' | 'mute' | 'reload-model';
export interface CommandResult {
  ok: boolean;
  message: string;
}
export type CommandHandler = (name: CommandName, payload: Record<string, unknown>) => Promise<CommandResult>;
export interface EventSink {
  start(): Promise<void>;
  /** Publishes offline and closes; events not yet acknowledged stay in the outbox. */
  stop(): Promise<void>;
  /** Durable once the promise resolves (in the outbox or acknowledged by the broker). */
  publishEvent(decided: PersonDecided): Promise<void>;
  /** A person came into view or left (not durable: a live signal, like the state). */
  publishPerson(change: PersonEntered | PersonLeft): void;
  publishState(state: DaemonState): void;
  publishStats(stats: DaemonStats): void;
  publishCameraState(state: SourceState, detail?: string): void;
  /** Whether the buzzer is muted (retained, for the Home Assistant mute switch). */
  publishMute(mute: MuteChanged): void;
  onCommand(handler: CommandHandler): void;
  outboxDepth(): number;
}

// ---------- system ----------
export interface Notifier {
  ready(): void;
  status(text: string): void;
  watchdog(): void;
  stopping(): void;
  /** Watchdog interval systemd asked for (ms), or null when it did not. */
  watchdogIntervalMs(): number | null;
  /** Flushes what is queued (STOPPING=1 must get out) and closes the socket. */
  close(): Promise<void>;
}
