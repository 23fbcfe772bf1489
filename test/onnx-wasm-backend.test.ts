/**
 * ONNX Runtime's WebAssembly backend (onnxruntime-web inside Node), the daemon's path where onnxruntime-node's native
 * binding cannot load (32-bit Raspberry Pi OS). Forced here with MASKWATCH_ORT_BACKEND=wasm in child processes:
 * the real CLI and the shipped models give the native labels; a missing binding falls back with one warning.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { iou } from '../src/core/geometry.js';
import { argmax } from '../src/workflows/eval/metrics.js';
import { classifyCardTestFaces, haveCardData, MIN_FACE, type CardTestRun } from './helpers/card-test-faces.js';
import { ROOT, runCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-ort-wasm-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CROPS = ['mask', 'no_mask', 'mask_incorrect'].flatMap((label) => {
  const dir = path.join(ROOT, 'test/fixtures/dataset/crops', label);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(dir, f));
});
const FACES_DIR = path.join(ROOT, 'test/fixtures/faces');
const PHOTOS = fs.readdirSync(FACES_DIR).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(FACES_DIR, f));
const WASM = { MASKWATCH_ORT_BACKEND: 'wasm' };
const NATIVE = { MASKWATCH_ORT_BACKEND: 'native' };
const NO_BINDING = { MASKWATCH_TEST_ORT_NODE_COPY: path.join(tmp, 'ort-node-copy'), NODE_OPTIONS: `--import ${path.join(ROOT, 'test/helpers/ort-without-binding.mjs')}` };
const WASM_LINE = /^\S+ INFO  \[onnx\] ONNX Runtime [\d.]+: WebAssembly backend \(onnxruntime-web, MASKWATCH_ORT_BACKEND=wasm\)$/;

interface Classified {
  file: string;
  label: string;
  probs: Record<string, number>;
}
interface Predicted {
  file: string;
  faces: Array<{ box: [number, number, number, number]; label: string; detection: number }>;
}

const jsonLines = <T>(stdout: string): T[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
const stderrLines = (stderr: string) => stderr.trim().split('\n').filter(Boolean);

async function cli<T>(args: string[], env: NodeJS.ProcessEnv): Promise<{ out: T[]; stderr: string[] }> {
  const r = await runCli(args, { env, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return { out: jsonLines<T>(r.stdout), stderr: stderrLines(r.stderr) };
}

function maxProbDiff(a: Classified[], b: Classified[]): number {
  let max = 0;
  a.forEach((x, i) => Object.keys(x.probs).forEach((k) => (max = Math.max(max, Math.abs(x.probs[k]! - b[i]!.probs[k]!)))));
  return max;
}

for (const precision of ['float', 'int8'] as const) {
  test(`classify --precision ${precision} on the fixture face crops: wasm gives the native labels`, async (t) => {
    const args = ['classify', '--json', '--precision', precision, ...CROPS];
    const native = await cli<Classified>(args, NATIVE);
    const wasm = await cli<Classified>(args, WASM);
    assert.deepEqual(native.stderr, [], 'native: nothing on stderr');
    assert.equal(wasm.stderr.length, 1, wasm.stderr.join('\n'));
    assert.match(wasm.stderr[0]!, WASM_LINE);
    assert.equal(native.out.length, CROPS.length);
    assert.deepEqual(wasm.out.map((c) => c.file), native.out.map((c) => c.file));
    assert.deepEqual(wasm.out.map((c) => c.label), native.out.map((c) => c.label));
    assert.ok(new Set(native.out.map((c) => c.label)).size >= 2, 'the crops are not all one label');
    const diff = maxProbDiff(native.out, wasm.out);
    t.diagnostic(`${CROPS.length} crops, labels equal, max probability difference ${diff.toFixed(4)}`);
    assert.ok(diff <= 0.02, `probabilities differ by up to ${diff}`);
  });
}

test('predict on the fixture photos (default detector and back): wasm finds the native boxes and labels', async (t) => {
  for (const detector of [[], ['--detector', 'back']]) {
    const args = ['predict', '--json', ...detector, ...PHOTOS];
    const native = await cli<Predicted>(args, NATIVE);
    const wasm = await cli<Predicted>(args, WASM);
    assert.equal(wasm.stderr.length, 1, wasm.stderr.join('\n'));
    assert.deepEqual(wasm.out.map((p) => p.file), PHOTOS);
    let faces = 0;
    let worst = 1;
    native.out.forEach((n, i) => {
      const w = wasm.out[i]!;
      assert.equal(w.faces.length, n.faces.length, `${n.file}: face count`);
      n.faces.forEach((f, j) => {
        const [x, y, bw, bh] = f.box;
        const [wx, wy, ww, wh] = w.faces[j]!.box;
        const overlap = iou({ x, y, w: bw, h: bh }, { x: wx, y: wy, w: ww, h: wh });
        worst = Math.min(worst, overlap);
        assert.ok(overlap >= 0.95, `${n.file} face ${j}: IoU ${overlap.toFixed(3)}`);
        assert.equal(w.faces[j]!.label, f.label, `${n.file} face ${j}: label`);
        faces++;
      });
    });
    assert.ok(faces >= 4, `${faces} faces found`);
    t.diagnostic(`detector ${detector[1] ?? 'default'}: ${faces} faces in ${PHOTOS.length} photos, labels equal, lowest IoU ${worst.toFixed(4)}`);
  }
});

function runCardTestFacesOnWasm(): Promise<CardTestRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/card-test-faces.ts')], { cwd: ROOT, env: { ...process.env, ...WASM }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout) as CardTestRun) : reject(new Error(`card-test-faces exited ${code}: ${stderr}`))));
  });
}

test(`shipped model, its held-out test faces ≥ ${MIN_FACE} px: wasm labels equal native on ≥ 99 %, float and int8`, { skip: haveCardData ? false : 'no ../shared datasets' }, async (t) => {
  const wasmRun = runCardTestFacesOnWasm(); // in parallel with the native run in this process
  const native = await classifyCardTestFaces();
  const wasm = await wasmRun;
  assert.equal(native.backend, 'native');
  assert.equal(wasm.backend, 'wasm');
  assert.deepEqual(wasm.ids, native.ids);
  assert.ok(native.ids.length >= 300, `${native.ids.length} test faces`);
  for (const precision of ['float', 'int8'] as const) {
    const n = native.probs[precision];
    const w = wasm.probs[precision];
    const agree = n.filter((p, i) => argmax(p) === argmax(w[i]!)).length;
    const pct = (100 * agree) / n.length;
    const maxDiff = Math.max(...n.flatMap((p, i) => p.map((v, k) => Math.abs(v - w[i]![k]!))));
    t.diagnostic(`${precision}: wasm and native labels agree on ${agree}/${n.length} faces (${pct.toFixed(2)} %), max probability difference ${maxDiff.toFixed(4)}`);
    assert.ok(pct >= 99, `${precision}: ${pct.toFixed(2)} % of ${n.length}`);
  }
});

test('no native binding (onnxruntime-node without its bin/, as on armv7): auto falls back to wasm with one warning line', async () => {
  const native = await cli<Classified>(['classify', '--json', ...CROPS], NATIVE);
  const fallback = await cli<Classified>(['classify', '--json', ...CROPS], NO_BINDING);
  assert.equal(fallback.stderr.length, 1, fallback.stderr.join('\n'));
  assert.match(fallback.stderr[0]!, /WARN  \[onnx\] ONNX Runtime: onnxruntime-node's native binding cannot load on linux-\w+ \(Cannot find module '\.\.\/bin\/napi-v\d+\/linux\/\w+\/onnxruntime_binding\.node'\); using onnxruntime-web's WebAssembly backend/);
  assert.deepEqual(fallback.out.map((c) => c.label), native.out.map((c) => c.label));

  const forced = await runCli(['classify', '--json', CROPS[0]!], { env: { ...NO_BINDING, ...NATIVE } });
  assert.equal(forced.code, 2);
  assert.equal(forced.stdout, '');
  assert.deepEqual(stderrLines(forced.stderr).length, 1, forced.stderr);
  assert.match(forced.stderr, /native binding cannot load .* MASKWATCH_ORT_BACKEND=native forbids the WebAssembly fallback/);
});

test('MASKWATCH_ORT_BACKEND other than native, wasm or auto: one error line, exit 2, no output', async () => {
  const r = await runCli(['classify', '--json', CROPS[0]!], { env: { MASKWATCH_ORT_BACKEND: 'gpu' } });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.deepEqual(stderrLines(r.stderr), ['maskwatch: MASKWATCH_ORT_BACKEND: must be native, wasm or auto, got "gpu"']);
});

test('run without a native binding, detector.thread on: the daemon and its detector thread both run on wasm, with one warning line, and decide the demo people', { timeout: 180_000 }, async () => {
  const config = path.join(tmp, 'thread-on.json');
  const example = JSON.parse(fs.readFileSync(path.join(ROOT, 'config/example.json'), 'utf8')) as { detector: Record<string, unknown> };
  fs.writeFileSync(config, JSON.stringify({ ...example, detector: { ...example.detector, thread: 'on' } }));
  const args = ['run', '--config', config, '--camera', 'demo', '--gpio', 'console', '--no-mqtt', '--log-level', 'debug', '--state-dir', path.join(tmp, 'run-state'), '--exit-after-ms', '15000'];
  const r = await runCli(args, { env: NO_BINDING, timeoutMs: 170_000 });
  assert.equal(r.code, 0, r.stderr);
  const lines = stderrLines(r.stderr);
  assert.equal(lines.filter((l) => /native binding cannot load/.test(l)).length, 1, 'one fallback warning for the process');
  assert.ok(lines.some((l) => /\[detector\] ssd \d+ \w+ started in its own thread \(ONNX Runtime wasm\)$/.test(l)), lines.filter((l) => /detector|onnx/.test(l)).join('\n'));
  assert.ok(lines.some((l) => /\[pipeline\] person \d+: (mask|no_mask|mask_incorrect) /.test(l)), 'a person decided');
  // auto on wasm: the main thread (a second WebAssembly runtime in a thread costs ~170 MB).
  const auto = await runCli([...args.slice(0, 2), path.join(ROOT, 'config/example.json'), ...args.slice(3, -1), '4000'], { env: WASM, timeoutMs: 120_000 });
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stderr, /\[detector\] detector on the main thread \(detector.thread auto, \d+ core\(s\), ONNX Runtime wasm\)/);
});
