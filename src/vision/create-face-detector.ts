/**
 * The face detector the config names: the AIZOO face-mask SSD (float or int8) or BlazeFace front/back, with each model's
 * own defaults where the config leaves a threshold at null. `run`, `predict`, `eval` and the trainer's detector boxes all
 * build their detector here, so they run the same one.
 */
import fs from 'node:fs';
import type { MaskwatchConfig } from '../config/schema.js';
import { createLogger } from '../core/log.js';
import type { FaceDetector } from '../core/seams.js';
import { BlazeFaceDetector } from './blazeface-detector.js';
import { shippedBoxCalibration, SsdFaceDetector, ssdModelFile } from './ssd-detector.js';

const log = createLogger('detector');

export type DetectorSettings = MaskwatchConfig['detector'];

/** Each model's defaults, chosen on the validation split (docs/MODEL.md). */
export const MODEL_DEFAULTS = {
  ssd: { scoreThreshold: 0.3, iouThreshold: 0.4 },
  front: { scoreThreshold: 0.75, iouThreshold: 0.3 },
  back: { scoreThreshold: 0.75, iouThreshold: 0.3 },
} as const;

/** A short name for logs, events and reports, e.g. `ssd 260 int8` or `blazeface-front`. */
export function detectorName(d: DetectorSettings): string {
  return d.model === 'ssd' ? `ssd ${d.inputSize} ${d.precision}` : `blazeface-${d.model}`;
}

export interface DetectorRuntime {
  intraOpNumThreads?: number;
  /** The SSD's boxes as it gives them, without the hand-drawn-box calibration (for fitting that calibration). */
  rawBoxes?: boolean;
  allowSpinning?: boolean;
}

/** Constructs and starts the configured detector; a missing or broken model file is one ModelError line. */
export async function createFaceDetector(d: DetectorSettings, runtime: DetectorRuntime = {}): Promise<FaceDetector> {
  const defaults = MODEL_DEFAULTS[d.model];
  const scoreThreshold = d.scoreThreshold ?? defaults.scoreThreshold;
  const iouThreshold = d.iouThreshold ?? defaults.iouThreshold;
  const threads = runtime.intraOpNumThreads ?? 1;
  let detector: SsdFaceDetector | BlazeFaceDetector;
  if (d.model === 'ssd') {
    let precision = d.precision;
    if (precision === 'int8' && !fs.existsSync(ssdModelFile('int8'))) {
      log.warn(`${ssdModelFile('int8')}: not there (npm run models:convert makes it); running the float SSD`);
      precision = 'float';
    }
    detector = new SsdFaceDetector({ inputWidth: d.inputSize, inputHeight: d.inputSize, scoreThreshold, iouThreshold, minFaceSize: d.minFaceSize, maxFaces: d.maxFaces, modelFile: ssdModelFile(precision), boxCalibration: runtime.rawBoxes ? undefined : shippedBoxCalibration(), intraOpNumThreads: threads, allowSpinning: runtime.allowSpinning });
  } else {
    detector = new BlazeFaceDetector({ variant: d.model, scoreThreshold, iouThreshold, minFaceSize: d.minFaceSize, maxFaces: d.maxFaces, intraOpNumThreads: threads, allowSpinning: runtime.allowSpinning });
  }
  await detector.start();
  return detector;
}
