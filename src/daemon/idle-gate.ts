/**
 * Idle mode: an empty doorway should cost almost nothing. After `idleAfterMs` without a face the gate looks at only
 * `idleFps` frames a second (the others are not even decoded), and of those only the ones whose small grey thumbnail
 * differs from the last frame the detector saw go on to the full decode and the detector. The first face switches
 * back to every frame. A person stepping in waits at most 1/idleFps s longer for the light.
 */
import type { Clock } from '../core/clock.js';
import type { GreyImage } from '../vision/image-decode.js';

export interface IdleOptions {
  /** detector.idleAfterS in ms; 0: never idle. */
  idleAfterMs: number;
  /** detector.idleFps: frames looked at per second while idle. */
  idleFps: number;
  /** A thumbnail pixel counts as changed when its grey level moved by more than this (default 12 of 255). */
  pixelThreshold?: number;
  /** A frame counts as changed when at least this share of its thumbnail pixels changed (default 0.3 %). */
  changedShare?: number;
}

/** What to do with a frame: all of it (active), a thumbnail first (idle, due), or nothing (idle, not due). */
export type Admission = 'process' | 'check' | 'skip';

export interface IdleCounts {
  idle: boolean;
  /** Frames not decoded at all while idle. */
  skipped: number;
  /** Frames whose thumbnail was decoded while idle. */
  checked: number;
  /** Of those, the ones found unchanged (not decoded further). */
  unchanged: number;
}

export class IdleGate {
  private idleNow = false;
  private lastFaceAt: number | null = null;
  private lastLookAt = -Infinity;
  private lastAdmitAt: number | null = null;
  private frameGap = 0;
  private lastDetectedAt = -Infinity;
  private reference: GreyImage | null = null;
  private readonly n = { skipped: 0, checked: 0, unchanged: 0 };

  constructor(
    private readonly opts: IdleOptions,
    private readonly clock: Clock,
  ) {}

  get idle(): boolean {
    return this.idleNow;
  }

  get counts(): IdleCounts {
    return { idle: this.idleNow, ...this.n };
  }

  /** Called for each frame as it is taken from the source. */
  admit(): Admission {
    const now = this.clock.now();
    this.lastFaceAt ??= now;
    // The camera's frame gap, smoothed: a look is due half a gap early, so 5 looks a second at 15 frames/s are every
    // 3rd frame (not every 4th whenever a frame comes a little early).
    const period = 1000 / this.opts.idleFps;
    if (this.lastAdmitAt !== null) this.frameGap = this.frameGap ? 0.9 * this.frameGap + 0.1 * (now - this.lastAdmitAt) : now - this.lastAdmitAt;
    this.lastAdmitAt = now;
    if (!this.idleNow) return 'process';
    if (now - this.lastLookAt < period - Math.min(this.frameGap, period) / 2) {
      this.n.skipped++;
      return 'skip';
    }
    this.lastLookAt = now;
    this.n.checked++;
    return 'check';
  }

  /**
   * Whether a checked frame goes on to the detector: its thumbnail differs from the last frame the detector saw, or
   * the detector has not run for idleAfterMs (a slow change the threshold would never see).
   */
  changed(thumb: GreyImage): boolean {
    const ref = this.reference;
    const stale = this.clock.now() - this.lastDetectedAt >= this.opts.idleAfterMs;
    if (!ref || stale || ref.width !== thumb.width || ref.height !== thumb.height) return true;
    const threshold = this.opts.pixelThreshold ?? 12;
    const needed = Math.max(1, Math.ceil((this.opts.changedShare ?? 0.003) * thumb.grey.length));
    let moved = 0;
    for (let i = 0; i < thumb.grey.length; i++) if (Math.abs(thumb.grey[i]! - ref.grey[i]!) > threshold && ++moved >= needed) return true;
    this.n.unchanged++;
    return false;
  }

  /** After the detector ran on a frame: `faces` found; `thumb` is the frame's thumbnail when it was checked first. */
  detected(faces: number, thumb: GreyImage | null): void {
    const now = this.clock.now();
    this.lastDetectedAt = now;
    if (faces > 0) {
      this.lastFaceAt = now;
      this.idleNow = false;
      this.reference = null;
      return;
    }
    if (!this.idleNow && this.opts.idleAfterMs > 0 && now - (this.lastFaceAt ?? now) >= this.opts.idleAfterMs) {
      this.idleNow = true;
      this.lastLookAt = now;
    }
    if (thumb) this.reference = thumb;
  }
}
