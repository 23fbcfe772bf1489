import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { LABELS } from '../src/core/types.js';
import { fileEntry, readModelCard, verifiedModelFile, writeModelCard, type ModelCard } from '../src/vision/model-card.js';
import { runCli } from './helpers/cli.js';
import { buildQuantizeTestNet, NET_SIZE, randomInputs } from './helpers/quantize-net.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-quantize-'));

function makeModelDir(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'classifier.onnx'), buildQuantizeTestNet(3));
  const card: ModelCard = {
    name: 'tiny',
    created: new Date().toISOString(),
    labels: [...LABELS],
    input: { width: NET_SIZE, height: NET_SIZE, channels: 3, layout: 'NHWC', normalization: 'x/127.5-1', inputName: 'input', outputName: 'probs' },
    cropMargin: 0.2,
    architecture: 'test net',
    base: { name: 'none', alpha: 1, sha256: '', licence: 'MIT' },
    files: { float: fileEntry(dir, 'classifier.onnx') },
    licence: 'MIT',
  };
  writeModelCard(dir, card);
  return dir;
}

const crops = path.join(tmp, 'crops');
fs.mkdirSync(crops);
const pictures = randomInputs(24, 300, 48);
await Promise.all(
  pictures.map((x, i) =>
    sharp(Buffer.from(Uint8Array.from(x, (v) => Math.round((v + 1) * 127.5))), { raw: { width: 48, height: 48, channels: 3 } })
      .jpeg({ quality: 95 })
      .toFile(path.join(crops, `crop${i}.jpg`)),
  ),
);

test('maskwatch quantize writes classifier.int8.onnx and records it in the card', async () => {
  const dir = makeModelDir('ok');
  const r = await runCli(['quantize', dir, '--calibration', crops, '--method', 'minmax', '--samples', '16', '--check', '8', '--weights', 'uint8'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /agreement with float on 8 crops not used for calibration: labels \d+\.\d %/);
  assert.match(r.stdout, /QLinearConv×4/);
  const card = readModelCard(dir);
  assert.ok(verifiedModelFile(dir, card, 'int8').endsWith('classifier.int8.onnx'));
  const q = card.quantization as Record<string, any>;
  assert.equal(q.method, 'minmax');
  assert.deepEqual(q.calibrationSet, { description: `face crops in ${crops}`, count: 16 });
  assert.equal(q.agreement.samples, 8);
  assert.ok(q.agreement.labelAgreement >= 0 && q.agreement.labelAgreement <= 1);
  assert.ok(Number.isInteger(q.floatLayers), 'the searched float prefix is recorded');
  assert.ok(q.kernels.integer >= 4 && (q.kernels.floatConv > 0) === (q.floatLayers > 0), JSON.stringify(q));
  assert.ok(card.files.int8!.bytes < card.files.float.bytes);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['classifier.int8.onnx', 'classifier.onnx', 'model-card.json'], 'no temp files left');
});

test('maskwatch quantize --float-layers 1 keeps the first conv float; a bad count is one error line', async () => {
  const dir = makeModelDir('float1');
  const r = await runCli(['quantize', dir, '--calibration', crops, '--float-layers', '1', '--samples', '8', '--check', '8', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { report: { floatLayers: number }; opsAfterOptimization: Record<string, number> };
  assert.equal(out.report.floatLayers, 1);
  assert.equal(readModelCard(dir).quantization?.floatLayers, 1);
  const qconv = Object.entries(out.opsAfterOptimization).filter(([op]) => op.endsWith('QLinearConv')).reduce((a, [, n]) => a + n, 0);
  assert.equal(qconv, 3, JSON.stringify(out.opsAfterOptimization));
  const noData = await runCli(['quantize', makeModelDir('no-data')]);
  assert.equal(noData.code, 1);
  assert.match(noData.stderr, /its card names no training data, so give --calibration DIR or --data ROOT/);
  const bad = await runCli(['quantize', makeModelDir('float-bad'), '--calibration', crops, '--float-layers', 'two']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--float-layers: a whole number, got two/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

test('maskwatch quantize --method percentile records the percentile', async () => {
  const dir = makeModelDir('pct');
  const r = await runCli(['quantize', dir, '--calibration', crops, '--method', 'percentile', '--percentile', '99.9', '--samples', '8', '--check', '0', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.report.percentile, 99.9);
  assert.match(out.agreement.on, /the 8 calibration crops/);
  assert.equal((readModelCard(dir).quantization as Record<string, unknown>).percentile, 99.9);
});

test('maskwatch quantize: one clear error line for a missing dir, a sha mismatch, no calibration images, a bad flag', async () => {
  const missing = await runCli(['quantize', path.join(tmp, 'nope'), '--calibration', crops]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^maskwatch: model .*nope: no such folder\n$/);

  const dir = makeModelDir('tampered');
  fs.appendFileSync(path.join(dir, 'classifier.onnx'), Buffer.from([0]));
  const tampered = await runCli(['quantize', dir, '--calibration', crops]);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stderr, /classifier\.onnx: sha256 .* does not match its card/);

  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const none = await runCli(['quantize', makeModelDir('none'), '--calibration', empty]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /calibration folder .*empty: no images/);
  assert.ok(!fs.existsSync(path.join(tmp, 'none', 'classifier.int8.onnx')), 'nothing written');

  const bad = await runCli(['quantize', makeModelDir('bad'), '--calibration', crops, '--method', 'kl']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--method: minmax or percentile, got kl/);
});

test('maskwatch quantize whose card cannot be written: the folder keeps its old int8 file and card, a matching pair', async (t) => {
  const dir = makeModelDir('card-fails');
  const args = ['quantize', dir, '--calibration', crops, '--method', 'minmax', '--samples', '16', '--check', '8'];
  const first = await runCli(args, { timeoutMs: 60_000 });
  assert.equal(first.code, 0, first.stderr);
  const before = readModelCard(dir);
  const int8Before = fs.readFileSync(path.join(dir, 'classifier.int8.onnx'));
  // A card that cannot be replaced (a bind mount onto itself makes rename fail with EBUSY, as root too).
  const card = path.join(dir, 'model-card.json');
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('mount', ['--bind', card, card], { stdio: 'pipe' });
  } catch (err) {
    return t.skip(`cannot bind-mount here: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    const r = await runCli([...args, '--float-layers', '1'], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot write .*model-card\.json: .*\(EBUSY\)/);
  } finally {
    execFileSync('umount', [card]);
  }
  assert.deepEqual(readModelCard(dir), before, 'the card is the old one');
  assert.deepEqual(fs.readFileSync(path.join(dir, 'classifier.int8.onnx')), int8Before, 'and so is the int8 file');
  assert.ok(verifiedModelFile(dir, readModelCard(dir), 'int8'), 'which the card still names by its sha256');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['classifier.int8.onnx', 'classifier.onnx', 'model-card.json'], 'no staged file left');
});
