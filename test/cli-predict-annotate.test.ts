/**
 * `predict --annotate DIR` with inputs that share a name: every input gets its own output (the first keeps the name,
 * later ones -2, -3, … in the order given, names compared without case), a picture keeps its extension and format.
 * Real CLI child process, the shipped BlazeFace models and a tiny real ONNX classifier.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { ROOT, runCli } from './helpers/cli.js';
import { writeTinyModelDir } from './helpers/vision-tiny-classifier.js';

const SAMPLE1 = path.join(ROOT, 'test/fixtures/faces/sample1.jpg');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-annotate-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('11 inputs sharing 6 names: 11 annotated files, deterministic names, each in its input’s format', { timeout: 120_000 }, async () => {
  const model = path.join(tmp, 'model');
  writeTinyModelDir(model);
  const small = await sharp(SAMPLE1).resize(320, 320);
  const put = async (rel: string, format: 'jpeg' | 'png' | 'webp') => {
    const file = path.join(tmp, 'in', rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await small.clone().toFormat(format).toFile(file);
    return file;
  };
  const inputs = [
    await put('a/door.jpg', 'jpeg'),
    await put('b/door.jpg', 'jpeg'),
    await put('c/door.jpg', 'jpeg'),
    await put('a/street.png', 'png'),
    await put('b/street.png', 'png'),
    await put('a/door-2.jpg', 'jpeg'), // the name a clash above already took
    await put('b/Door.JPG', 'jpeg'), // the same name but for case
    await put('a/face.webp', 'webp'),
    await put('a/snapshot', 'jpeg'), // no extension: written as PNG, .png added
    await put('d/street.png', 'png'),
  ];
  inputs.push(inputs[0]!); // the same input twice
  assert.equal(new Set(inputs.map((f) => path.basename(f))).size, 6);
  const out = path.join(tmp, 'out');
  const r = await runCli(['predict', '--json', '--model', model, '--precision', 'float', '--detector', 'back', '--annotate', out, ...inputs]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; annotated: string });
  const expected = ['door.jpg', 'door-2.jpg', 'door-3.jpg', 'street.png', 'street-2.png', 'door-2-2.jpg', 'Door-4.JPG', 'face.webp', 'snapshot.png', 'street-3.png', 'door-5.jpg'];
  assert.deepEqual(lines.map((l) => [l.file, path.relative(out, l.annotated)]), inputs.map((f, i) => [f, expected[i]]));
  assert.deepEqual(fs.readdirSync(out).sort(), [...expected].sort(), 'nothing overwritten, nothing else written');
  const formats: Record<string, string> = { '.jpg': 'jpeg', '.JPG': 'jpeg', '.png': 'png', '.webp': 'webp' };
  for (const name of expected) {
    const meta = await sharp(path.join(out, name)).metadata();
    assert.equal(meta.format, formats[path.extname(name)], name);
    assert.deepEqual([meta.width, meta.height], [320, 320], name);
  }
  const help = await runCli(['predict', '--help']);
  assert.match(help.stdout.replace(/\s+/g, ' '), /gets -2, -3, … before the extension, in the order given/);
});

test('--annotate into the folder of an input: refused before anything is written, the input untouched', { timeout: 60_000 }, async () => {
  const dir = path.join(tmp, 'same');
  fs.mkdirSync(dir, { recursive: true });
  const input = path.join(dir, 'in.jpg');
  fs.copyFileSync(SAMPLE1, input);
  const before = fs.readFileSync(input);
  for (const out of [dir, `${dir}/`, path.relative(ROOT, dir)]) {
    const r = await runCli(['predict', input, '--annotate', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `maskwatch: --annotate ${out} is the folder ${input} is in: its annotated copy would replace it; give another folder\n`);
    assert.deepEqual(fs.readFileSync(input), before);
    assert.deepEqual(fs.readdirSync(dir), ['in.jpg']);
  }
});
