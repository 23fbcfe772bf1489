/**
 * What the pipeline tells its outputs, on the daemon's event bus (src/core/bus.ts). Lights, MQTT, the stats reporter,
 * the watchdog and READY each subscribe to what they need; none of them is called by the pipeline directly.
 */
import type { DaemonState, DaemonStats, SourceState } from './seams.js';
import type { Decision, Label } from './types.js';

/** Which camera a person was seen by: its description (`v4l2:/dev/video0`, `libcamera`, `demo`, `file:…`). */
export type SourceName = string;

export interface PersonEntered {
  trackId: number;
  /** Monotonic ms. */
  at: number;
  source: SourceName;
}

export interface PersonDecided {
  decision: Decision;
  model: { name: string; sha256: string };
  source: SourceName;
}

export interface PersonLeft {
  trackId: number;
  /** The decided label, or null when the person left before a decision. */
  label: Label | null;
  frames: number;
  durationMs: number;
  at: number;
  source: SourceName;
}

export interface FrameProcessed {
  seq: number;
  /** Monotonic ms when processing ended. */
  at: number;
  /** Capture to end of processing. */
  latencyMs: number;
  faces: number;
}

export interface CameraChanged {
  state: SourceState;
  detail?: string;
}

/** The buzzer was muted or un-muted: by the mute command, or because the mute ran out. */
export interface MuteChanged {
  muted: boolean;
  /** Wall-clock end of the mute; null when not muted. */
  until: Date | null;
}

export interface DaemonEvents {
  [name: string]: unknown;
  'person.entered': PersonEntered;
  'person.decided': PersonDecided;
  'person.left': PersonLeft;
  /** What the door shows now, worked out once (src/decision/door-state.ts): the lights and the retained MQTT state both follow it. */
  'state.changed': DaemonState;
  'camera.changed': CameraChanged;
  'frame.processed': FrameProcessed;
  'mute.changed': MuteChanged;
  stats: DaemonStats;
}
