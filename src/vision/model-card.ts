import fs from 'node:fs';
import path from 'node:path';
import { LABELS, type Label } from '../core/types.js';
import { ModelError } from '../core/errors.js';
import { sha256File, writeFileAtomic } from '../core/files.js';

/** model-card.json: everything the daemon and the CLI need to run a classifier, and how it was made. */
export interface ModelFileEntry {
  path: string;
  sha256: string;
  bytes: number;
}
export interface ModelCard {
  name: string;
  created: string;
  labels: Label[];
  input: {
    width: number;
    height: number;
    channels: 3;
    layout: 'NHWC';
    /** Always 'x/127.5-1' for MobileNetV2 bases: RGB bytes to [-1, 1]. */
    normalization: 'x/127.5-1';
    inputName: string;
    outputName: string;
  };
  /** Margin around the face box used when cropping for training; the daemon uses the same. */
  cropMargin: number;
  architecture: string;
  base: { name: string; alpha: number; sha256: string; licence: string };
  files: { float: ModelFileEntry; int8?: ModelFileEntry; tfjs?: ModelFileEntry };
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  quantization?: Record<string, unknown>;
  licence: string;
}

export const MODEL_CARD = 'model-card.json';

export function readModelCard(dir: string): ModelCard {
  const file = path.join(dir, MODEL_CARD);
  if (!fs.existsSync(dir)) throw new ModelError(`model ${dir}: no such folder`);
  if (!fs.existsSync(file)) throw new ModelError(`model ${dir}: no ${MODEL_CARD} in it`);
  let card: ModelCard;
  try {
    card = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelCard;
  } catch (err) {
    throw new ModelError(`model ${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof card !== 'object' || card === null || Array.isArray(card)) throw new ModelError(`model ${file}: must be a JSON object ({...}), not ${Array.isArray(card) ? 'an array' : JSON.stringify(card)}`);
  if (!Array.isArray(card.labels) || card.labels.length !== LABELS.length || card.labels.some((l) => !LABELS.includes(l)))
    throw new ModelError(`model ${file}: labels must be ${LABELS.join(', ')} in some order, got ${JSON.stringify(card.labels)}`);
  if (!card.input || !(card.input.width > 0) || card.input.width !== card.input.height)
    throw new ModelError(`model ${file}: input must be a square size, got ${JSON.stringify(card.input)}`);
  if (!card.files?.float?.path) throw new ModelError(`model ${file}: files.float is missing`);
  return card;
}

/** The path of a model file after checking it exists and its sha256 matches the card. */
export function verifiedModelFile(dir: string, card: ModelCard, precision: 'float' | 'int8'): string {
  const entry = card.files[precision];
  if (!entry) throw new ModelError(`model ${dir}: the card lists no ${precision} file`);
  const file = path.join(dir, entry.path);
  if (!fs.existsSync(file)) throw new ModelError(`model ${file}: no such file`);
  const actual = sha256File(file);
  if (actual !== entry.sha256) throw new ModelError(`model ${file}: sha256 ${actual.slice(0, 12)}… does not match its card (${entry.sha256.slice(0, 12)}…)`);
  return file;
}

export function fileEntry(dir: string, relPath: string): ModelFileEntry {
  const file = path.join(dir, relPath);
  return { path: relPath, sha256: sha256File(file), bytes: fs.statSync(file).size };
}

export function writeModelCard(dir: string, card: ModelCard): void {
  writeFileAtomic(path.join(dir, MODEL_CARD), JSON.stringify(card, null, 2) + '\n');
}
