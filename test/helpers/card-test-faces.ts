/**
 * The shipped classifier (float and int8) on its card's held-out test faces ≥ 32 px, on this process's ONNX Runtime
 * backend. Run as a script (`node --import tsx test/helpers/card-test-faces.ts`, with MASKWATCH_ORT_BACKEND set) it
 * prints one JSON line, so a test can compare two backends that cannot share a process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ortBackend } from '../../src/onnx/session.js';
import { readModelCard, verifiedModelFile } from '../../src/vision/model-card.js';
import { samplesIn } from '../../src/workflows/data/labelled-data.js';
import { classifySamples } from '../../src/workflows/eval/evaluate.js';
import { loadCardData } from '../../src/workflows/eval/eval-run.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MODEL = path.join(ROOT, 'models', 'maskwatch-default');
export const MIN_FACE = 32;
export const haveCardData = fs.existsSync(path.resolve(ROOT, '..', 'shared', 'datasets', 'kaggle-face-mask'));

export interface CardTestRun {
  backend: string;
  ids: string[];
  /** Per precision: every face's class probabilities, in `ids` order. */
  probs: Record<'float' | 'int8', number[][]>;
}

export async function classifyCardTestFaces(): Promise<CardTestRun> {
  const cwd = process.cwd();
  process.chdir(ROOT); // the card's data roots are relative to the project root
  try {
    const card = readModelCard(MODEL);
    const { data } = await loadCardData(card, null);
    const faces = samplesIn(data, 'test').filter((s) => s.faceSize >= MIN_FACE);
    const opts = { margin: card.cropMargin, inputSize: card.input.width, progress: false };
    const probs = {} as CardTestRun['probs'];
    for (const precision of ['float', 'int8'] as const) {
      const run = await classifySamples(verifiedModelFile(MODEL, card, precision), faces, opts);
      probs[precision] = run.probs.map((p) => Array.from(p));
    }
    return { backend: await ortBackend(), ids: faces.map((s) => s.id), probs };
  } finally {
    process.chdir(cwd);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(JSON.stringify(await classifyCardTestFaces()) + '\n');
