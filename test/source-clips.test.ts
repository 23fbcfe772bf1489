import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ManualClock } from '../src/core/clock.js';
import { setLogSink } from '../src/core/log.js';
import type { EncodedFrame, FrameSource } from '../src/core/seams.js';
import { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE, ensureDemoClip } from '../src/source/demo-clip.js';
import { loadImageFolder } from '../src/source/clip-source.js';
import { autoSource, createFrameSource, findCameraDevice } from '../src/source/create-frame-source.js';
import { splitMjpeg } from '../src/source/mjpeg-splitter.js';
import { schema, type MaskwatchConfig } from '../src/config/schema.js';
import convict from 'convict';

let dir: string;
let previousSink: ReturnType<typeof setLogSink>;

function cameraConfig(overrides: Partial<MaskwatchConfig['camera']>): MaskwatchConfig['camera'] {
  const base = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {} }).getProperties().camera;
  return { ...base, ...overrides };
}

/** Takes whatever frame is waiting now (the clip source delivers on clock ticks). */
async function take(source: FrameSource): Promise<EncodedFrame | null> {
  return Promise.race([source.nextFrame(), new Promise<'none'>((r) => setImmediate(() => r('none')))]).then((f) => (f === 'none' ? null : f));
}

/** The colour of a frame's centre pixel (the folder images are flat colours). */
async function centre(jpeg: Buffer): Promise<number[]> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const i = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * 3;
  return [data[i], data[i + 1], data[i + 2]];
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-clips-'));
  previousSink = setLogSink(() => undefined);
});
after(() => {
  setLogSink(previousSink);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a folder source plays images in natural name order at camera.fps, then ends', async () => {
  const folder = path.join(dir, 'images');
  fs.mkdirSync(folder);
  const colours: Record<string, string> = { 'f2.jpg': '#ff0000', 'f10.png': '#0000ff', 'f1.jpg': '#00ff00' };
  for (const [name, colour] of Object.entries(colours)) {
    const img = sharp({ create: { width: 64, height: 48, channels: 3, background: colour } });
    await (name.endsWith('.png') ? img.png() : img.jpeg()).toFile(path.join(folder, name));
  }
  fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
  const clock = new ManualClock();
  const source = createFrameSource({ camera: cameraConfig({ source: `file:${folder}`, fps: 5, loop: false }), stateDir: dir }, clock);
  await source.start();
  const got: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const f = await take(source);
    assert.ok(f, `frame ${i}`);
    assert.equal(f.capturedAt, i * 200);
    got.push(await centre(f.jpeg));
    clock.advance(200);
  }
  const dominant = got.map((c) => ['r', 'g', 'b'][c.indexOf(Math.max(...c))]);
  assert.deepEqual(dominant, ['g', 'r', 'b'], 'f1, f2, f10');
  assert.equal(source.state, 'ended');
  assert.equal(await source.nextFrame(), null);
  await source.stop();
});

test('a folder source skips images it cannot read, naming them in one line; a folder of only such images is one error', async () => {
  const folder = path.join(dir, 'some-bad');
  fs.mkdirSync(folder);
  const good = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#00ff00' } }).jpeg().toBuffer();
  fs.writeFileSync(path.join(folder, 'a1.jpg'), good);
  fs.writeFileSync(path.join(folder, 'a2.jpg'), good.subarray(0, good.length >> 1)); // cut short
  fs.writeFileSync(path.join(folder, 'a3.png'), 'text, not a PNG');
  fs.writeFileSync(path.join(folder, 'a4.jpg'), good);
  const lines: string[] = [];
  const quiet = setLogSink((line) => void lines.push(line));
  try {
    const frames = await loadImageFolder(folder);
    assert.equal(frames.length, 2, 'a1 and a4');
    const warned = lines.filter((l) => l.includes('skipped'));
    assert.equal(warned.length, 1, lines.join('\n'));
    assert.match(warned[0]!, /2 of 4 images skipped, unreadable: a2\.jpg \(.+\), a3\.png \(.+\)$/);
    fs.rmSync(path.join(folder, 'a1.jpg'));
    fs.rmSync(path.join(folder, 'a4.jpg'));
    await assert.rejects(loadImageFolder(folder), /camera file:.*some-bad: none of its 2 images can be read: a2\.jpg/);
  } finally {
    setLogSink(quiet);
  }
});

test('a looping folder source starts over; a slow consumer sees drops', async () => {
  const clock = new ManualClock();
  const source = createFrameSource({ camera: cameraConfig({ source: `file:${path.join(dir, 'images')}`, fps: 10, loop: true }), stateDir: dir }, clock);
  await source.start();
  clock.advance(1000); // 11 frames delivered, nobody took them
  const f = await take(source);
  assert.equal(f?.seq, 11);
  assert.equal(source.stats().dropped, 10);
  assert.equal(source.state, 'streaming');
  await source.stop();
});

test('bad file sources fail with one line naming the path', async () => {
  assert.throws(() => createFrameSource({ camera: cameraConfig({ source: `file:${dir}/nope.mp4` }), stateDir: dir }, new ManualClock()), /camera.source file:.*nope.mp4: no such file or folder/);
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  const source = createFrameSource({ camera: cameraConfig({ source: `file:${empty}` }), stateDir: dir }, new ManualClock());
  await assert.rejects(source.start(), /file:.*empty: no images/);
});

test('buildClip: faces in view for showMs, empty gaps, 1 or 3 faces per frame, sidecar sequence', async () => {
  const people = DEMO_PEOPLE.slice(0, 3).map((p) => ({ image: path.join(DEMO_ASSETS_DIR, p.file), label: p.label }));
  const one = await buildClip(people, { fps: 4, showMs: 1000, gapMs: 500, width: 320, height: 240, faceSize: 120 });
  assert.equal(one.frames.length, 3 * (4 + 2));
  assert.deepEqual(one.sequence.expected, ['mask', 'no_mask', 'mask_incorrect']);
  assert.deepEqual(
    one.sequence.segments.map((s) => [s.startFrame, s.endFrame]),
    [
      [0, 4],
      [6, 10],
      [12, 16],
    ],
  );
  // gap frames are flat background, face frames are not
  const stdev = async (jpeg: Buffer) => (await sharp(jpeg).stats()).channels[0].stdev;
  assert.ok((await stdev(one.frames[4])) < 2);
  assert.ok((await stdev(one.frames[1])) > 10);
  const meta = await sharp(one.frames[0]).metadata();
  assert.deepEqual([meta.width, meta.height], [320, 240]);
  // the face moves a little between frames
  assert.notDeepEqual(one.frames[0], one.frames[1]);

  const three = await buildClip(people, { fps: 2, showMs: 1000, gapMs: 0, facesPerFrame: 3 });
  assert.equal(three.frames.length, 2);
  assert.deepEqual(three.sequence.segments[0].labels, ['mask', 'no_mask', 'mask_incorrect']);
  // three faces side by side: each third of the frame has content
  const { data, info } = await sharp(three.frames[0]).greyscale().raw().toBuffer({ resolveWithObject: true });
  for (let k = 0; k < 3; k++) {
    const x = Math.floor(((k + 0.5) * info.width) / 3);
    const y = Math.floor(info.height / 2);
    let differs = 0;
    for (let dx = -20; dx <= 20; dx++) if (Math.abs(data[y * info.width + x + dx] - 128) > 12) differs++;
    assert.ok(differs > 5, `face ${k} at x=${x}`);
  }
});

test('the demo clip is built once into stateDir, reused, and rebuilt when the faces change or the clip is damaged', async () => {
  const assets = path.join(dir, 'assets');
  fs.cpSync(DEMO_ASSETS_DIR, assets, { recursive: true });
  const stateDir = path.join(dir, 'state');
  const fast = { fps: 2 };
  const a = await ensureDemoClip(stateDir, assets, fast);
  const frames = splitMjpeg(fs.readFileSync(a.clipPath));
  assert.equal(frames.length, a.sequence.frames);
  assert.deepEqual(a.sequence.expected, DEMO_PEOPLE.map((p) => p.label));
  for (const label of ['mask', 'no_mask', 'mask_incorrect']) assert.ok(a.sequence.expected.includes(label as never), label);
  assert.deepEqual(JSON.parse(fs.readFileSync(a.sequencePath, 'utf8')).expected, a.sequence.expected);
  const m1 = fs.statSync(a.clipPath).mtimeMs;
  await ensureDemoClip(stateDir, assets, fast);
  assert.equal(fs.statSync(a.clipPath).mtimeMs, m1, 'cached clip reused');
  await sharp(path.join(assets, DEMO_PEOPLE[0].file)).flop().jpeg().toFile(path.join(assets, 'flipped.jpg'));
  fs.renameSync(path.join(assets, 'flipped.jpg'), path.join(assets, DEMO_PEOPLE[0].file));
  const b = await ensureDemoClip(stateDir, assets, fast);
  assert.notEqual(b.sequence.assetsHash, a.sequence.assetsHash);
  assert.notDeepEqual(splitMjpeg(fs.readFileSync(b.clipPath))[1], frames[1]);
  // A clip emptied or cut short since (a full disk, a crash of something else): built again, not played as it is.
  const whole = fs.readFileSync(b.clipPath);
  for (const damage of [Buffer.alloc(0), whole.subarray(0, whole.length >> 1)]) {
    fs.writeFileSync(b.clipPath, damage);
    const c = await ensureDemoClip(stateDir, assets, fast);
    assert.deepEqual(fs.readFileSync(c.clipPath), whole, `rebuilt from ${damage.length} bytes`);
  }
});

test('the shipped demo faces are small, real JPEGs with a licence note', async () => {
  let total = 0;
  for (const p of DEMO_PEOPLE) {
    const file = path.join(DEMO_ASSETS_DIR, p.file);
    total += fs.statSync(file).size;
    const meta = await sharp(file).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.ok(Math.max(meta.width!, meta.height!) >= 150, p.file);
  }
  assert.ok(total < 300_000, `${total} bytes`);
  assert.match(fs.readFileSync(path.join(DEMO_ASSETS_DIR, 'LICENSE.md'), 'utf8'), /CC0[\s\S]*MIT/);
});

test('auto finds the first /dev/video* that is a camera, skipping ISP/codec nodes', () => {
  const dev = path.join(dir, 'dev');
  const sys = path.join(dir, 'v4l');
  fs.mkdirSync(dev);
  assert.equal(findCameraDevice(dev, sys), null);
  for (const [n, name] of [
    ['video19', 'bcm2835-codec-decode'],
    ['video2', 'USB Camera'],
    ['video10', 'pispbe'],
  ]) {
    fs.writeFileSync(path.join(dev, n), '');
    fs.mkdirSync(path.join(sys, n), { recursive: true });
    fs.writeFileSync(path.join(sys, n, 'name'), name + '\n');
  }
  assert.equal(findCameraDevice(dev, sys), path.join(dev, 'video2'));
  assert.equal(autoSource(cameraConfig({}), dev, sys), `v4l2:${path.join(dev, 'video2')}`);
  // a Pi with only a CSI camera: libcamera when rpicam-vid is there, else no camera (never the demo)
  fs.rmSync(path.join(dev, 'video2'));
  fs.writeFileSync(path.join(dev, 'video0'), '');
  fs.mkdirSync(path.join(sys, 'video0'), { recursive: true });
  fs.writeFileSync(path.join(sys, 'video0', 'name'), 'rp1-cfe\n');
  assert.equal(findCameraDevice(dev, sys), null);
  const rpicam = path.join(dir, 'rpicam-vid');
  fs.writeFileSync(rpicam, '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(autoSource(cameraConfig({ rpicamPath: rpicam }), dev, sys), 'libcamera');
  assert.equal(autoSource(cameraConfig({ rpicamPath: path.join(dir, 'none', 'rpicam-vid') }), dev, sys), null, 'never the demo');
});
