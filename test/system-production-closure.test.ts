/**
 * The daemon's commands must run on a production install, which has no TF.js (npm prune --omit=dev).
 * Each command runs here, where TF.js is installed, with a loader hook that records every module the
 * process loads (test/helpers/record-modules.mjs): none may come from @tensorflow/*.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-closure-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const RECORDER = path.join(ROOT, 'test/helpers/record-modules.mjs');
const FACE = path.join(ROOT, 'test/fixtures/faces/masked1.jpg');

async function modulesLoadedBy(name: string, args: string[]) {
  const file = path.join(tmp, `${name}.modules`);
  const r = await runCli(args, {
    env: { MASKWATCH_RECORD_MODULES: file, NODE_OPTIONS: `--import ${RECORDER}`, MASKWATCH_STATE_DIR: path.join(tmp, `${name}-state`) },
    timeoutMs: 120_000,
  });
  const modules = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  return { ...r, modules, tensorflow: modules.filter((m) => m.includes('/@tensorflow/')) };
}

test('control: the recorder sees TF.js load when a training-side command loads it', async () => {
  const r = await modulesLoadedBy('export', ['export', path.join(tmp, 'no-model'), '--out', path.join(tmp, 'x.onnx')]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.tensorflow.some((m) => m.includes('/@tensorflow/tfjs/')), `TF.js not seen in ${r.modules.length} modules`);
});

test('predict and classify load ONNX Runtime and sharp, never TF.js', async () => {
  for (const args of [['predict', FACE, '--json'], ['classify', FACE, '--json']]) {
    const r = await modulesLoadedBy(args[0]!, args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mask/);
    assert.ok(r.modules.some((m) => m.includes('/onnxruntime-node/')) && r.modules.some((m) => m.includes('/sharp/')), `${args[0]}: ${r.modules.length} modules`);
    assert.deepEqual(r.tensorflow, [], args[0]);
  }
});

test('config check and config print never load TF.js', async () => {
  for (const sub of ['check', 'print']) {
    const r = await modulesLoadedBy(`config-${sub}`, ['config', sub, '--config', path.join(ROOT, 'config/example.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.modules.some((m) => m.includes('/convict/')));
    assert.deepEqual(r.tensorflow, []);
  }
});

test('run (demo clip through detector, classifier, console lights; until it stops itself) never loads TF.js', async () => {
  const r = await modulesLoadedBy('run', ['run', '--config', path.join(ROOT, 'config/example.json'), '--camera', 'demo', '--gpio', 'console', '--no-mqtt', '--exit-after-ms', '4000']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /stopped/i);
  assert.ok(r.modules.some((m) => m.includes('/daemon/pipeline.')) && r.modules.some((m) => m.includes('/onnxruntime-node/')));
  assert.deepEqual(r.tensorflow, []);
});
