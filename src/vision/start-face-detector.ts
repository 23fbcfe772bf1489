/**
 * A face detector built from settings whose precision is already resolved (create-face-detector.ts resolves `auto`):
 * the AIZOO face-mask SSD or BlazeFace front/back, with each model's own defaults where a threshold is null. Kept apart
 * from the precision choice so the detector's own thread (detector-thread.ts) loads only what a detector needs.
 */
import type { MaskwatchConfig } from '../config/schema.js';
import type { FaceDetector } from '../core/seams.js';
import { BlazeFaceDetector } from './blazeface-detector.js';
import type { Precision } from './precision-choice.js';
import { shippedBoxCalibration, SsdFaceDetector, ssdModelFile } from './ssd-detector.js';

export type DetectorSettings = MaskwatchConfig['detector'];

/** Each model's defaults, chosen on the validation split (docs/MODEL.md). */
export const MODEL_DEFAULTS = {
  ssd: { scoreThreshold: 0.3, iouThreshold: 0.4 },
  front: { scoreThreshold: 0.75, iouThreshold: 0.3 },
  back: { scoreThreshold: 0.75, iouThreshold: 0.3 },
} as const;

/** A short name for logs, events and reports, e.g. `ssd 260 int8` (or `auto` before it is resolved) or `blazeface-front`. */
export function detectorName(d: DetectorSettings): string {
  return d.model === 'ssd' ? `ssd ${d.inputSize} ${d.precision}` : `blazeface-${d.model}`;
}

export interface DetectorRuntime {
  intraOpNumThreads?: number;
  /** The SSD's boxes as it gives them, without the hand-drawn-box calibration (for fitting that calibration). */
  rawBoxes?: boolean;
  allowSpinning?: boolean;
  /** Where precision auto keeps its choice (the config's stateDir); absent: measured once per process. */
  stateDir?: string | null;
}

export type ResolvedDetectorSettings = DetectorSettings & { precision: Precision };

/** Constructs and starts the detector; a missing or broken model file is one ModelError line. */
export async function startFaceDetector(d: ResolvedDetectorSettings, runtime: DetectorRuntime = {}): Promise<FaceDetector> {
  const defaults = MODEL_DEFAULTS[d.model];
  const scoreThreshold = d.scoreThreshold ?? defaults.scoreThreshold;
  const iouThreshold = d.iouThreshold ?? defaults.iouThreshold;
  const threads = runtime.intraOpNumThreads ?? 1;
  const detector =
    d.model === 'ssd'
      ? new SsdFaceDetector({ inputWidth: d.inputSize, inputHeight: d.inputSize, scoreThreshold, iouThreshold, minFaceSize: d.minFaceSize, maxFaces: d.maxFaces, modelFile: ssdModelFile(d.precision), boxCalibration: runtime.rawBoxes ? undefined : shippedBoxCalibration(), intraOpNumThreads: threads, allowSpinning: runtime.allowSpinning })
      : new BlazeFaceDetector({ variant: d.model, scoreThreshold, iouThreshold, minFaceSize: d.minFaceSize, maxFaces: d.maxFaces, intraOpNumThreads: threads, allowSpinning: runtime.allowSpinning });
  await detector.start();
  return detector;
}
