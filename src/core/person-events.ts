/**
 * What happens to a person at the door, and the buzzer's mute: the payloads the bus carries (src/core/daemon-events.ts)
 * and the event sink publishes (src/core/seams.ts).
 */
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
  /** Undecided after enough frames: the median's best label, below tracker.confidence. */
  unsure?: { label: Label; score: number };
  at: number;
  source: SourceName;
}

/** The buzzer was muted or un-muted: by the mute command, or because the mute ran out. */
export interface MuteChanged {
  muted: boolean;
  /** Wall-clock end of the mute; null when not muted. */
  until: Date | null;
}
