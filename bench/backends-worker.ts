/**
 * One backend's timings in a process of its own (ONNX Runtime picks one backend per process, from
 * MASKWATCH_ORT_BACKEND): the shipped classifier on one face (float, int8) and the default detector on a 640×480
 * frame, 1 thread, through the daemon's own classes. Prints one JSON line.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadConfig } from '../src/config/load.js';
import type { Frame } from '../src/core/types.js';
import { ortBackend } from '../src/onnx/session.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { timeCalls, type Timing } from './stats.js';

export interface BackendTimings {
  backend: string;
  detector: string;
  faces: number;
  /** First session opened by the process: includes loading the runtime (compiling the .wasm for wasm). */
  firstOpenMs: number;
  timings: Record<string, Timing>;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { config } = loadConfig();
const backend = process.env.MASKWATCH_ORT_BACKEND ?? 'auto';
const runs = backend === 'wasm' ? 60 : 200;
const warmup = backend === 'wasm' ? 5 : 20;

const { data, info } = await sharp(path.join(ROOT, 'test/fixtures/faces/sample5.jpg')).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const frame: Frame = { seq: 0, capturedAt: 0, width: info.width, height: info.height, rgb: data };

const t0 = performance.now();
const detector = await createFaceDetector(config.detector, { intraOpNumThreads: 1 });
const firstOpenMs = performance.now() - t0;
const timings: Record<string, Timing> = {};
let faces = 0;
try {
  const found = await detector.detect(frame);
  faces = found.length;
  if (!faces) throw new Error('the default detector finds no face in the bench frame');
  timings['detector detect()'] = await timeCalls(() => detector.detect(frame), runs, warmup);
  // Both detectors keep their last preprocessed input: infer() is the bare model run on it.
  timings['detector bare model run'] = await timeCalls(() => (detector as unknown as { infer(): Promise<unknown> }).infer(), runs, warmup);
  for (const precision of ['float', 'int8'] as const) {
    const classifier = await createMaskClassifier({ modelDir: path.join(ROOT, config.classifier.modelDir), precision, intraOpNumThreads: 1 });
    try {
      timings[`classifier ${precision}, 1 face`] = await timeCalls(() => classifier.classifyFaces(frame, [found[0]!.box]), runs, warmup);
    } finally {
      await classifier.close();
    }
  }
} finally {
  await detector.close();
}
const result: BackendTimings = { backend: await ortBackend(), detector: config.detector.model === 'ssd' ? `SSD ${config.detector.inputSize} (precision ${config.detector.precision})` : `blazeface-${config.detector.model}`, faces, firstOpenMs, timings };
process.stdout.write(JSON.stringify(result) + '\n');
