/**
 * What the pipeline tells its outputs, on the daemon's event bus (src/core/bus.ts). Lights, MQTT, the stats reporter,
 * the watchdog and READY each subscribe to what they need; none of them is called by the pipeline directly.
 */
import type { DaemonState, DaemonStats, SourceState } from './seams.js';
import type { MuteChanged, PersonDecided, PersonEntered, PersonLeft } from './person-events.js';

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
