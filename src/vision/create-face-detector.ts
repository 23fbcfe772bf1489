/**
 * The face detector the config names: the AIZOO face-mask SSD (float or int8) or BlazeFace front/back, with each model's
 * own defaults where the config leaves a threshold at null. `run`, `predict`, `eval` and the trainer's detector boxes all
 * resolve its precision here and build it with startFaceDetector (start-face-detector.ts), so they run the same one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sha256File } from '../core/files.js';
import { greedyMatch } from '../core/geometry.js';
import { createLogger } from '../core/log.js';
import type { FaceDetector, PrecisionReport } from '../core/seams.js';
import type { Box } from '../core/types.js';
import { ortBackend } from '../onnx/session.js';
import { choosePrecision, fixedPrecision, loadCheckImages, readCpuInt8, type Precision } from './precision-choice.js';
import { padsInt8Stem, SsdFaceDetector, ssdModelFile } from './ssd-detector.js';
import { startFaceDetector, type DetectorRuntime, type DetectorSettings, type ResolvedDetectorSettings } from './start-face-detector.js';

const log = createLogger('detector');

/**
 * The settings with precision auto resolved (measured on this CPU, or cached) and a missing int8 SSD file replaced
 * by float, and why; BlazeFace has a float file only.
 */
export async function resolveDetectorPrecision(d: DetectorSettings, runtime: DetectorRuntime = {}): Promise<{ settings: ResolvedDetectorSettings; report: PrecisionReport }> {
  const at = (precision: Precision) => ({ ...d, precision });
  if (d.model !== 'ssd') return { settings: at('float'), report: fixedPrecision(d.precision === 'auto' ? 'float' : d.precision, 'float', 'BlazeFace has a float file only') };
  const int8File = ssdModelFile('int8');
  const haveInt8 = fs.existsSync(int8File);
  if (d.precision === 'auto') {
    const floatFile = ssdModelFile('float');
    const choice = await choosePrecision<Box[]>({
      what: 'detector',
      files: { float: { file: floatFile, sha256: fs.existsSync(floatFile) ? sha256File(floatFile) : 'missing' }, int8: haveInt8 ? { file: int8File, sha256: sha256File(int8File) } : null },
      int8Weights: ssdInt8Weights(int8File),
      open: (p) => ssdCandidate(at(p), runtime),
      same: (a, b) => a.length === b.length && greedyMatch(a, b, 0.5).size === a.length,
      checkName: 'check frames',
      stateDir: runtime.stateDir ?? null,
      threads: runtime.intraOpNumThreads ?? 1,
      runsAs: padsInt8Stem(await ortBackend()) ? 'int8 stem 4 channels' : undefined,
    });
    return { settings: at(choice.running), report: choice };
  }
  if (d.precision === 'int8' && !haveInt8) {
    log.warn(`${int8File}: not there (npm run models:convert makes it); running the float SSD`);
    return { settings: at('float'), report: fixedPrecision('int8', 'float', `${path.basename(int8File)} is missing`) };
  }
  if (d.precision === 'int8' && ssdInt8Weights(int8File) !== 'uint8' && !readCpuInt8().signedWeightsExact) log.warn(`${int8File}: its int8 weights saturate on this CPU (no VNNI), so faces can differ from float; detector.precision auto or float avoids that`);
  return { settings: at(d.precision), report: fixedPrecision(d.precision, d.precision) };
}

/** How the int8 SSD stores its weights: the record `npm run models:convert` writes next to it. */
function ssdInt8Weights(int8File: string): 'int8' | 'uint8' | 'unknown' {
  try {
    const weights = String((JSON.parse(fs.readFileSync(path.join(path.dirname(int8File), 'int8.json'), 'utf8')) as { weights?: unknown }).weights ?? '');
    return weights.startsWith('uint8') ? 'uint8' : weights.startsWith('int8') ? 'int8' : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The SSD at a fixed precision, its model run timed on a real 640×480 frame, answering the check frames (for auto). */
async function ssdCandidate(d: ResolvedDetectorSettings, runtime: DetectorRuntime) {
  const frames = (await loadCheckImages('frames')).map((image, seq) => ({ ...image, seq, capturedAt: 0 }));
  if (!frames.length) throw new Error('precision auto: the check frames (models/precision-check/frames) are missing; set detector.precision to int8 or float');
  const detector = (await startFaceDetector(d, runtime)) as SsdFaceDetector;
  // detect() refills the one input tensor, so the timed frame is put back in after the answers.
  let timedFrameIn = false;
  return {
    run: () => {
      if (!timedFrameIn) detector.preprocess(frames[0]!);
      timedFrameIn = true;
      return detector.infer();
    },
    answers: async () => {
      const boxes: Box[][] = [];
      for (const frame of frames) boxes.push((await detector.detect(frame)).map((f) => f.box));
      timedFrameIn = false;
      return boxes;
    },
    close: () => detector.close(),
  };
}

/** Constructs and starts the configured detector (precision auto resolved first); a missing or broken model file is one ModelError line. */
export async function createFaceDetector(d: DetectorSettings, runtime: DetectorRuntime = {}): Promise<FaceDetector> {
  const precision = d.model === 'ssd' ? (await resolveDetectorPrecision(d, runtime)).settings.precision : 'float';
  return startFaceDetector({ ...d, precision }, runtime);
}
