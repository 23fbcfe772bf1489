import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { saveLayersModelToDir } from '../src/workflows/export/tfjs-model-dir.js';
import { buildClassifier, buildMobileNetV2 } from '../src/workflows/train/mobilenet.js';
import { randomizeBatchNorm } from './helpers/tfjs-models.js';

let dir = '';

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['bin/maskwatch.js', 'export', ...args], { encoding: 'utf8', timeout: 60_000 });
}

before(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-export-cli-'));
  const base = buildMobileNetV2(0.35, 64, 3);
  randomizeBatchNorm(base, 3);
  await saveLayersModelToDir(buildClassifier(base, { inputSize: 64, hidden: 128, dropout: 0.5, classes: 3 }), path.join(dir, 'clf'));
  const input = tf.input({ shape: [4] });
  const odd = tf.layers.repeatVector({ n: 2, name: 'odd_repeat' }).apply(input) as tf.SymbolicTensor;
  await saveLayersModelToDir(tf.model({ inputs: input, outputs: odd }), path.join(dir, 'odd'));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('maskwatch export writes an ONNX file that agrees with TF.js and prints the difference', async () => {
  const out = path.join(dir, 'out', 'clf.onnx');
  const r = cli(path.join(dir, 'clf'), '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const m = /max \|ONNX − TF\.js\| = (\S+) on 2 random inputs/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) <= 1e-4, r.stdout);
  const session = await ort.InferenceSession.create(out);
  const res = await session.run({ input: new ort.Tensor('float32', new Float32Array(64 * 64 * 3).fill(0.2), [1, 64, 64, 3]) });
  const probs = res.probs!.data as Float32Array;
  assert.equal(probs.length, 3);
  assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  await session.release();
});

test('maskwatch export: missing folder and unsupported layer give one clear error and write nothing', () => {
  const out = path.join(dir, 'never.onnx');
  const missing = cli(path.join(dir, 'nope'), '--out', out);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr.trim(), /^maskwatch: TF\.js model .*nope: no such folder$/);
  const odd = cli(path.join(dir, 'odd'), '--out', out);
  assert.equal(odd.status, 1);
  assert.match(odd.stderr, /layer 'odd_repeat' \(RepeatVector\) is not supported/);
  assert.ok(!fs.existsSync(out));
});
