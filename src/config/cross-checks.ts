import fs from 'node:fs';
import path from 'node:path';
import type { MaskwatchConfig } from './schema.js';

/** What the cross-checks need from the loader: whether a key passed its own check, and how to name it with its value and origin. */
export interface KeyView {
  valid(key: string): boolean;
  /** `signals.red = 17 (in /etc/maskwatch/config.json)` */
  describe(key: string): string;
}

const GPIO_OUTPUTS = ['green', 'red', 'amber', 'buzzer'] as const;

/** Rules between keys that no single format can check; each problem is one line naming every key involved. */
export function crossCheck(config: MaskwatchConfig, keys: KeyView): string[] {
  const problems: string[] = [];
  const allValid = (...names: string[]) => names.every((k) => keys.valid(k));

  const seen = new Map<string, string>();
  for (const output of GPIO_OUTPUTS) {
    const key = `signals.${output}`;
    const line = config.signals[output];
    if (line === null || !keys.valid(key)) continue;
    const id = `${typeof line}:${line}`;
    const first = seen.get(id);
    if (first) problems.push(`config: ${keys.describe(first)} and ${keys.describe(key)} are the same GPIO line: each output needs a line of its own (null leaves one unused)`);
    else seen.set(id, key);
  }

  const cam = config.camera;
  if (allValid('camera.retryInitialMs', 'camera.retryMaxMs') && cam.retryInitialMs > cam.retryMaxMs) {
    problems.push(`config: ${keys.describe('camera.retryInitialMs')} is more than ${keys.describe('camera.retryMaxMs')}: the first wait cannot be longer than the longest`);
  }

  const s = config.signals;
  if (allValid('signals.quietStart', 'signals.quietEnd') && (s.quietStart === '') !== (s.quietEnd === '')) {
    problems.push(`config: ${keys.describe('signals.quietStart')} and ${keys.describe('signals.quietEnd')}: quiet hours need both a start and an end (or neither)`);
  }

  const m = config.mqtt;
  if (allValid('mqtt.certFile', 'mqtt.keyFile') && (m.certFile === '') !== (m.keyFile === '')) {
    problems.push(`config: ${keys.describe('mqtt.certFile')} and ${keys.describe('mqtt.keyFile')}: a TLS client certificate needs both files (or neither)`);
  }
  if (m.password !== '' && m.passwordFile !== '') {
    problems.push(`config: ${keys.describe('mqtt.password')} and ${keys.describe('mqtt.passwordFile')} are both set; only mqtt.password would be used: set one`);
  }
  if (keys.valid('mqtt.url') && (m.password !== '' || m.passwordFile !== '') && /^[a-z]+:\/\/[^/?#@]*:[^/?#@]*@/i.test(m.url)) {
    problems.push(`config: ${keys.describe('mqtt.url')} carries a password and mqtt.password or mqtt.passwordFile is set too; only one would be used: set one`);
  }

  if (allValid('classifier.modelDir', 'classifier.precision')) {
    const problem = modelFileProblem(config.classifier.modelDir, config.classifier.precision);
    if (problem) problems.push(`config: ${keys.describe('classifier.modelDir')} with ${keys.describe('classifier.precision')}: ${problem}`);
  }
  return problems;
}

/** Whether the model file the daemon would open for the precision is named by the card and there (the daemon also checks its sha256). */
function modelFileProblem(dir: string, precision: 'auto' | 'int8' | 'float'): string | null {
  let card: { files?: Partial<Record<'int8' | 'float', { path?: unknown }>> };
  try {
    card = JSON.parse(fs.readFileSync(path.join(dir, 'model-card.json'), 'utf8'));
  } catch (err) {
    return `model-card.json cannot be read: ${(err as Error).message}`;
  }
  if (typeof card !== 'object' || card === null || Array.isArray(card)) return 'model-card.json is not a JSON object';
  // a card without an int8 file is run in float (the classifier warns); without a float file it is broken
  const used = precision !== 'auto' && card.files?.[precision] ? precision : 'float';
  const entry = card.files?.[used];
  if (!entry || typeof entry.path !== 'string') return 'the model card names no float file';
  if (!fs.existsSync(path.join(dir, entry.path))) return `${path.join(dir, entry.path)} (files.${used} of the model card) is missing`;
  return null;
}
