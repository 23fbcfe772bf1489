/**
 * `maskwatch predict` and `maskwatch classify` as child processes (argument arrays), with a tiny real ONNX
 * classifier made here and the shipped BlazeFace models, on the fixture photos and a clip made with ffmpeg.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { LABELS } from '../src/core/types.js';
import { ROOT, runCli } from './helpers/cli.js';
import { Tmpfs } from './helpers/tmpfs.js';
import { writeTinyModelDir } from './helpers/vision-tiny-classifier.js';

const FACES = path.join(ROOT, 'test/fixtures/faces');
const SAMPLE1 = path.join(FACES, 'sample1.jpg');
const SAMPLE5 = path.join(FACES, 'sample5.jpg');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-predict-'));
const model = path.join(tmp, 'model');
const base = ['--model', model, '--precision', 'float', '--detector', 'back'];

before(() => {
  writeTinyModelDir(model);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function parseLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function assertFaceShape(face: Record<string, unknown>, width: number, height: number): void {
  assert.deepEqual(Object.keys(face).sort(), ['box', 'detection', 'label', 'probs', 'score']);
  const box = face.box as number[];
  assert.equal(box.length, 4);
  assert.ok(box[0]! >= 0 && box[1]! >= 0 && box[0]! + box[2]! <= width && box[1]! + box[3]! <= height && box[2]! > 20);
  assert.ok((LABELS as readonly string[]).includes(face.label as string));
  const probs = face.probs as Record<string, number>;
  assert.deepEqual(Object.keys(probs).sort(), ['mask', 'mask_incorrect', 'no_mask']);
  assert.ok(Math.abs(probs.mask! + probs.no_mask! + probs.mask_incorrect! - 1) < 1e-3);
  assert.equal(face.score, probs[face.label as string]);
}

test('predict --json: one line per image, faces with box, detection, label, score, probs', async () => {
  const r = await runCli(['predict', '--json', ...base, SAMPLE1, SAMPLE5]);
  assert.equal(r.code, 0, r.stderr);
  const lines = parseLines(r.stdout);
  assert.deepEqual(lines.map((l) => [l.file, (l.faces as unknown[]).length]), [[SAMPLE1, 3], [SAMPLE5, 5]]);
  for (const l of lines) for (const f of l.faces as Array<Record<string, unknown>>) assertFaceShape(f, 800, 800);
});

test('predict without --json prints a table per image', async () => {
  const r = await runCli(['predict', ...base, SAMPLE1]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sample1\.jpg: 3 faces\n/);
  assert.equal(r.stdout.trim().split('\n').length, 5);
});

test('bad inputs: one error line each naming the file, the rest of the batch runs, exit non-zero', async () => {
  const bad = path.join(tmp, 'bad');
  fs.mkdirSync(bad);
  const truncated = path.join(bad, 'truncated.jpg');
  const bytes = fs.readFileSync(SAMPLE1);
  fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const text = path.join(bad, 'notes.jpg');
  fs.writeFileSync(text, 'this is not a picture\n');
  const empty = path.join(bad, 'empty.png');
  fs.writeFileSync(empty, '');
  const missing = path.join(bad, 'missing.jpg');
  const folder = path.join(bad, 'a-folder.jpg');
  fs.mkdirSync(folder);
  const inputs = [missing, truncated, text, empty, folder, SAMPLE1];
  let unreadable: string | undefined;
  if (process.getuid?.() !== 0) {
    unreadable = path.join(bad, 'locked.jpg');
    fs.copyFileSync(SAMPLE1, unreadable);
    fs.chmodSync(unreadable, 0o000);
    inputs.push(unreadable);
  }
  for (const cmd of ['predict', 'classify']) {
    const r = await runCli([cmd, '--json', ...(cmd === 'predict' ? base : base.slice(0, 4)), ...inputs]);
    assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
    const errors = r.stderr.trim().split('\n');
    assert.equal(errors.length, inputs.length - 1, r.stderr);
    assert.match(errors[0]!, new RegExp(`${missing}: no such file`));
    assert.match(errors[1]!, new RegExp(`${truncated}: truncated or corrupt`));
    assert.match(errors[2]!, new RegExp(`${text}: not an image`));
    assert.match(errors[3]!, new RegExp(`${empty}: empty file`));
    assert.match(errors[4]!, new RegExp(`${folder}: is a folder`));
    if (unreadable) assert.match(errors[5]!, new RegExp(`${unreadable}: cannot read it`));
    assert.deepEqual(parseLines(r.stdout).map((l) => l.file), [SAMPLE1], `${cmd} still processed the good image`);
  }
});

test('model problems: missing dir, a card that is not an object, sha256 mismatch, wrong input shape → one error line, exit non-zero, no output', async () => {
  const tampered = path.join(tmp, 'tampered');
  writeTinyModelDir(tampered);
  fs.appendFileSync(path.join(tampered, 'classifier.onnx'), 'x');
  const wrong = path.join(tmp, 'wrong-shape');
  writeTinyModelDir(wrong, { onnxSize: 96, cardSize: 224 });
  const nullCard = path.join(tmp, 'null-card');
  writeTinyModelDir(nullCard);
  fs.writeFileSync(path.join(nullCard, 'model-card.json'), 'null\n');
  const cases: Array<[string, RegExp]> = [
    [nullCard, /^maskwatch: config: classifier\.modelDir = ".*null-card" \(from the command line\) .*: model-card\.json is not a JSON object\n$/],
    [path.join(tmp, 'no-model'), /no-model: no such folder/],
    [tampered, /classifier\.onnx: sha256 .* does not match its card/],
    [wrong, /input input has shape \[-1, 96, 96, 3\], but the card says \[N, 224, 224, 3\]/],
  ];
  for (const [dir, message] of cases) {
    // classify shares predict's model loading; one case for it keeps the file fast.
    for (const cmd of dir === tampered ? ['predict', 'classify'] : ['predict']) {
      const annotate = path.join(tmp, `never-${path.basename(dir)}`);
      const r = await runCli([cmd, '--model', dir, '--precision', 'float', ...(cmd === 'predict' ? ['--annotate', annotate] : []), SAMPLE1]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(fs.existsSync(annotate), false);
    }
  }
});

test('predict --annotate writes the picture with its boxes, nothing half-written', async () => {
  const dir = path.join(tmp, 'annotated');
  const r = await runCli(['predict', ...base, '--annotate', dir, SAMPLE1]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(dir), ['sample1.jpg']);
  const out = await sharp(path.join(dir, 'sample1.jpg')).raw().toBuffer({ resolveWithObject: true });
  const orig = await sharp(SAMPLE1).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([out.info.width, out.info.height], [orig.info.width, orig.info.height]);
  let changed = 0;
  for (let i = 0; i < out.data.length; i += 3) if (Math.abs(out.data[i]! - orig.data[i]!) > 60) changed++;
  assert.ok(changed > 500 && changed < out.data.length / 3 / 10, `box outlines change some pixels, not the picture (${changed})`);
});

test('predict on a video: one ffmpeg reader, JSON lines carry the frame, --annotate writes a video', async () => {
  const clip = path.join(tmp, 'clip.mp4');
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-loop', '1', '-i', SAMPLE1, '-frames:v', '3', '-r', '5', '-c:v', 'mpeg4', '-q:v', '3', clip]);
  assert.equal(made.status, 0, made.stderr?.toString());
  const noExtension = path.join(tmp, 'other.dat'); // recognised by ffprobe, not by its name
  fs.copyFileSync(clip, noExtension);
  const dir = path.join(tmp, 'video-out');
  const r = await runCli(['predict', '--json', ...base, '--annotate', dir, clip, noExtension]);
  assert.equal(r.code, 0, r.stderr);
  const lines = parseLines(r.stdout);
  assert.deepEqual(lines.map((l) => [l.file, l.frame]), [[clip, 0], [clip, 1], [clip, 2], [noExtension, 0], [noExtension, 1], [noExtension, 2]]);
  for (const l of lines) assert.equal((l.faces as unknown[]).length, 3);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['clip.mp4', 'other.mp4']);
  const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'csv=p=0', path.join(dir, 'clip.mp4')], { encoding: 'utf8' });
  assert.equal(probe.stdout.trim(), '800,534,3');
});

test('predict on a video with --annotate onto a full disk: one error line, no temp file, no hang (ffmpeg gone never drains)', { timeout: 120_000 }, async (t) => {
  const disk = Tmpfs.mount(64);
  if (typeof disk === 'string') return t.skip(disk);
  try {
    const clip = path.join(tmp, 'long.mp4');
    const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=10', '-frames:v', '80', '-c:v', 'mpeg4', '-q:v', '2', clip]);
    assert.equal(made.status, 0, made.stderr?.toString());
    const r = await runCli(['predict', ...base, '--annotate', disk.dir, clip], { timeoutMs: 90_000 });
    assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^maskwatch predict: ${disk.dir}/long\\.mp4: ffmpeg could not write the video \\(.*No space left on device.*\\)\\n$`, 's'));
    assert.deepEqual(fs.readdirSync(disk.dir), [], 'no temp file left');
  } finally {
    disk.dispose();
  }
});

test('predict on a video cut short (an upload stopped halfway): its frames reported, then one error line, exit 1', async () => {
  const whole = path.join(tmp, 'whole.mp4');
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-frames:v', '40', '-c:v', 'mpeg4', '-q:v', '2', '-movflags', '+faststart', whole]);
  assert.equal(made.status, 0, made.stderr?.toString());
  const cut = path.join(tmp, 'cut.mp4');
  const bytes = fs.readFileSync(whole);
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
  const r = await runCli(['predict', ...base, cut, whole]);
  assert.equal(r.code, 1, r.stderr);
  const frames = /^.*cut\.mp4: (\d+) frames$/m.exec(r.stdout);
  assert.ok(frames && Number(frames[1]) > 0 && Number(frames[1]) < 40, r.stdout);
  assert.match(r.stdout, /whole\.mp4: 40 frames$/m, 'the next input is read whole');
  assert.match(r.stderr, new RegExp(`^maskwatch predict: ${cut}: damaged or cut short: ffmpeg decoded ${frames![1]} frames with errors \\(.*partial file\\)\\n$`));
});

test('classify --json: one line per face crop with label, score and probs', async () => {
  const crops = path.join(tmp, 'crops');
  fs.mkdirSync(crops);
  const a = path.join(crops, 'a.png');
  const b = path.join(crops, 'b.jpg');
  await sharp(SAMPLE1).extract({ left: 160, top: 150, width: 110, height: 110 }).png().toFile(a);
  await sharp(SAMPLE5).extract({ left: 310, top: 50, width: 100, height: 100 }).jpeg().toFile(b);
  const r = await runCli(['classify', '--json', '--precision', 'int8', '--model', model, a, b]);
  assert.equal(r.code, 0, r.stderr);
  const lines = parseLines(r.stdout);
  assert.deepEqual(lines.map((l) => l.file), [a, b]);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l).sort(), ['file', 'label', 'probs', 'score']);
    assert.ok((LABELS as readonly string[]).includes(l.label as string));
  }
  assert.match(r.stderr, /no int8 file in its card, using the float model/);
});
