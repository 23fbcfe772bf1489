import type { TrackEnd, Tracker, TrackerUpdate } from '../core/seams.js';
import { LABELS, type Box, type ClassifiedFace, type Decision, type Label, type Probs } from '../core/types.js';
import { iou } from '../core/geometry.js';

export interface TrackerOptions {
  /** Box overlap that continues a track. */
  iouThreshold: number;
  /** Recent probability vectors kept per track. */
  window: number;
  /** Frames a track needs before it can be decided. */
  minFrames: number;
  /** Median probability the best label needs. */
  confidence: number;
  /** A track unseen this long ends. */
  lostAfterMs: number;
  /**
   * A decided person unseen at least this long (but less than lostAfterMs) whose face then gets another label, decided
   * as a new face would be, is someone else who stepped into the same spot; 0 turns this off.
   */
  newPersonAfterGapMs: number;
}

/** Most severe first: what the lights show when several decided people are in view. */
export const SEVERITY: readonly Label[] = ['no_mask', 'mask_incorrect', 'mask'];

interface Track {
  /** 0 until the face has been seen in minFrames frames and so counts as a person. */
  id: number;
  box: Box;
  firstSeenAt: number;
  lastSeenAt: number;
  /** Frames processed since this face was last seen in one. */
  missed: number;
  frames: number;
  history: Probs[];
  decision: Decision | null;
  /** A decided track seen again after a gap: the frames since, judged apart until they agree or a window has passed. */
  sinceGap: { firstSeenAt: number; lastSeenBefore: number; framesBefore: number; history: Probs[] } | null;
}

export { iou };

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Greedy IoU tracker with a centroid-distance fallback for fast moves. A face becomes a person (an id, `entered`) once
 * it has been seen in minFrames frames, as Frigate's min_initialized: a false detection of a frame or two is never a
 * person, so it takes no number and reaches no topic. Each person's label is the median of their recent scores; each is
 * decided at most once (one person, one event); a person unseen for lostAfterMs ends (`left`); a face that was not yet
 * a person just goes. A decided person seen again after a gap of newPersonAfterGapMs whose face then gets another
 * label is someone else who stepped into the same spot: the first leaves, the second enters, decided. Pure: time comes
 * in with each update.
 */
export class IouTracker implements Tracker {
  private tracks: Track[] = [];
  private nextId = 1;

  constructor(private readonly opts: TrackerOptions) {}

  update(now: number, faces: ClassifiedFace[]): TrackerUpdate {
    const left: TrackEnd[] = [];
    this.tracks = this.tracks.filter((t) => {
      if (now - t.lastSeenAt <= this.opts.lostAfterMs) return true;
      if (!t.id) return false;
      const unsure = t.decision ? {} : { unsure: medianLabel(t.history) };
      left.push({ trackId: t.id, label: t.decision?.label ?? null, frames: t.frames, durationMs: t.lastSeenAt - t.firstSeenAt, ...unsure });
      return false;
    });
    const assigned = this.match(faces);
    const seen = new Set(assigned.values());
    for (const t of this.tracks) if (!seen.has(t)) t.missed++;
    const entered: number[] = [];
    for (let f = 0; f < faces.length; f++) {
      let track = assigned.get(f);
      if (!track) {
        track = { id: 0, box: faces[f].box, firstSeenAt: now, lastSeenAt: now, missed: 0, frames: 0, history: [], decision: null, sinceGap: null };
        this.tracks.push(track);
      }
      // A gap is time unseen *and* a frame without the face: at 4 frames/s or fewer every frame comes 250 ms after the
      // one before, and would otherwise restart the frames since the gap, which then never reached minFrames.
      const gapMs = now - track.lastSeenAt;
      if (track.decision && this.opts.newPersonAfterGapMs > 0 && gapMs >= this.opts.newPersonAfterGapMs && track.missed > 0) {
        track.sinceGap = { firstSeenAt: now, lastSeenBefore: track.lastSeenAt, framesBefore: track.frames, history: [] };
      }
      track.box = faces[f].box;
      track.lastSeenAt = now;
      track.missed = 0;
      track.frames++;
      track.history.push(faces[f].probs);
      if (track.history.length > this.opts.window) track.history.shift();
      track.sinceGap?.history.push(faces[f].probs);
      if (!track.id && track.frames >= this.opts.minFrames) {
        track.id = this.nextId++;
        entered.push(track.id);
      }
    }
    const decided: Decision[] = [];
    this.tracks = this.tracks.map((t) => {
      const next = this.someoneElse(now, t);
      if (next === t) return t;
      left.push({ trackId: t.id, label: t.decision!.label, frames: t.sinceGap!.framesBefore, durationMs: t.sinceGap!.lastSeenBefore - t.firstSeenAt });
      entered.push(next.id);
      decided.push(next.decision!);
      return next;
    });
    for (const t of this.tracks) {
      if (t.decision || t.frames < this.opts.minFrames) continue;
      const { label, score } = medianLabel(t.history);
      if (score < this.opts.confidence) continue;
      t.decision = { trackId: t.id, label, score, frames: t.frames, durationMs: now - t.firstSeenAt, firstSeenAt: t.firstSeenAt, decidedAt: now };
      decided.push(t.decision);
    }
    let showing: Label | null = null;
    for (const t of this.tracks) {
      if (t.decision && (showing === null || SEVERITY.indexOf(t.decision.label) < SEVERITY.indexOf(showing))) showing = t.decision.label;
    }
    return { entered, decided, left, inView: this.tracks.filter((t) => t.id).length, showing };
  }

  /** Face index → existing track: IoU pairs first (best first), then nearest centroids for what is left. */
  private match(faces: ClassifiedFace[]): Map<number, Track> {
    const result = new Map<number, Track>();
    const usedTracks = new Set<Track>();
    const pairs: Array<{ f: number; t: Track; score: number }> = [];
    for (let f = 0; f < faces.length; f++) {
      for (const t of this.tracks) {
        const o = iou(faces[f].box, t.box);
        if (o >= this.opts.iouThreshold && o > 0) pairs.push({ f, t, score: o });
      }
    }
    pairs.sort((a, b) => b.score - a.score);
    for (const p of pairs) {
      if (result.has(p.f) || usedTracks.has(p.t)) continue;
      result.set(p.f, p.t);
      usedTracks.add(p.t);
    }
    // fast moves: a face of similar size whose centre is within one box size of a free track's
    const near: Array<{ f: number; t: Track; score: number }> = [];
    for (let f = 0; f < faces.length; f++) {
      if (result.has(f)) continue;
      const a = faces[f].box;
      for (const t of this.tracks) {
        if (usedTracks.has(t)) continue;
        const b = t.box;
        const sizeRatio = Math.max(a.w, b.w) / Math.max(1, Math.min(a.w, b.w));
        if (sizeRatio > 2) continue;
        const dist = Math.hypot(a.x + a.w / 2 - (b.x + b.w / 2), a.y + a.h / 2 - (b.y + b.h / 2));
        if (dist <= Math.max(a.w, b.w)) near.push({ f, t, score: dist });
      }
    }
    near.sort((a, b) => a.score - b.score);
    for (const p of near) {
      if (result.has(p.f) || usedTracks.has(p.t)) continue;
      result.set(p.f, p.t);
      usedTracks.add(p.t);
    }
    return result;
  }

  /**
   * The frames since a decided track's gap, decided as a new face's would be (minFrames, confidence): another label
   * means another person, returned as a new decided track; the same label, or a window of frames without another,
   * means the same person. Without the gap a label that wavers (a mask worn wrongly often does) never splits a person.
   */
  private someoneElse(now: number, t: Track): Track {
    const since = t.sinceGap;
    if (!since || !t.decision || since.history.length < this.opts.minFrames) return t;
    const { label, score } = medianLabel(since.history.slice(-this.opts.window));
    if (label === t.decision.label || score < this.opts.confidence) {
      if (label === t.decision.label || since.history.length >= this.opts.window) t.sinceGap = null;
      return t;
    }
    const id = this.nextId++;
    const frames = since.history.length;
    const decision: Decision = { trackId: id, label, score, frames, durationMs: now - since.firstSeenAt, firstSeenAt: since.firstSeenAt, decidedAt: now };
    return { id, box: t.box, firstSeenAt: since.firstSeenAt, lastSeenAt: now, missed: 0, frames, history: since.history.slice(-this.opts.window), decision, sinceGap: null };
  }
}

function medianLabel(history: Probs[]): { label: Label; score: number } {
  let best: Label = LABELS[0];
  let bestScore = -1;
  for (const label of LABELS) {
    const m = median(history.map((p) => p[label] ?? 0));
    if (m > bestScore) (best = label), (bestScore = m);
  }
  return { label: best, score: bestScore };
}
