import type { RgbImage } from './image.js';

export const LABELS = ['mask', 'no_mask', 'mask_incorrect'] as const;
export type Label = (typeof LABELS)[number];

/** A box in image pixels: left, top, width, height. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One decoded camera frame. */
export interface Frame extends RgbImage {
  seq: number;
  /** Monotonic capture time in ms (the injected clock's `now()`). */
  capturedAt: number;
}

export interface Keypoint {
  x: number;
  y: number;
}

export interface Face {
  box: Box;
  /** Detector confidence, 0..1. */
  score: number;
  /** BlazeFace's 6 keypoints in image pixels: right eye, left eye, nose, mouth, right ear, left ear. */
  keypoints: Keypoint[];
  /** The detector's own class scores, when it has them (the AIZOO SSD: independent sigmoid scores, not summing to 1). */
  detectorScores?: { mask: number; noMask: number };
}

export type Probs = Record<Label, number>;

export interface Verdict {
  label: Label;
  score: number;
  probs: Probs;
}

export interface ClassifiedFace extends Face, Verdict {}

/** One person, decided: what the tracker hands to lights and events. */
export interface Decision {
  trackId: number;
  label: Label;
  score: number;
  frames: number;
  durationMs: number;
  firstSeenAt: number;
  decidedAt: number;
}
