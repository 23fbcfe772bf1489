/**
 * What the door shows, worked out once: the most severe decided label in view lights its colour; when nobody decided
 * is in view any more, the light stays on for holdMs, then goes off. Every change (light, label or people in view) is
 * handed on once, so the LEDs and the retained MQTT state always say the same.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { LIGHT_FOR } from '../core/labels.js';
import type { DaemonState } from '../core/seams.js';
import type { Label } from '../core/types.js';

export const DOOR_OFF: DaemonState = { light: 'off', label: null, peopleInView: 0 };

export class DoorState {
  private current: DaemonState = DOOR_OFF;
  private hold: TimerHandle | null = null;
  private inView = 0;

  constructor(
    private readonly clock: Clock,
    private readonly holdMs: number,
    private readonly onChange: (state: DaemonState) => void,
  ) {}

  get state(): DaemonState {
    return this.current;
  }

  /** The tracker's view of this frame: the most severe decided label in view (or null) and how many people. */
  update(showing: Label | null, peopleInView: number): void {
    this.inView = peopleInView;
    if (showing !== null) {
      this.cancelHold();
      this.set(showing);
      return;
    }
    if (this.current.label !== null && !this.hold) {
      this.hold = this.clock.setTimeout(() => {
        this.hold = null;
        this.set(null);
      }, this.holdMs);
    }
    this.set(this.current.label);
  }

  /** Lights off at once (the daemon stops); no timer left behind. */
  stop(): void {
    this.cancelHold();
    this.inView = 0;
    this.set(null);
  }

  private set(label: Label | null): void {
    const next: DaemonState = { light: label ? LIGHT_FOR[label] : 'off', label, peopleInView: this.inView };
    if (next.light === this.current.light && next.label === this.current.label && next.peopleInView === this.current.peopleInView) return;
    this.current = next;
    this.onChange(next);
  }

  private cancelHold(): void {
    if (this.hold) this.clock.clearTimeout(this.hold);
    this.hold = null;
  }
}
