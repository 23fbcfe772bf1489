import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { setLogSink } from '../src/core/log.js';
import { fitFace, type FittedFace } from '../src/workflows/synth/face-fit.js';
import { drawMaskedCrop, synthesize, DEFAULT_SYNTH, type MaskedCrop, type SynthManifest } from '../src/workflows/synth/generate.js';
import type { RgbImage } from '../src/core/image.js';
import { faceCropRegion } from '../src/vision/face-crop.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { cropBox } from '../src/workflows/synth/image.js';
import { OnnxFaceMeshLandmarker } from '../src/workflows/synth/onnx-landmarker.js';
import { createRandom } from '../src/workflows/synth/random.js';
import { folderFaces } from '../src/workflows/synth/sources.js';
import { runSynth } from '../src/workflows/synth/run.js';
import type { Variant } from '../src/workflows/synth/mask-geometry.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/synth');
const PHOTOS = ['455.jpg', 'sunli_0104.jpg', '91.jpg'];
const FIT = { minFaceScore: 0.5, minFacePx: 32 };
const CROP = { margin: 0.15, maxSide: 256 };

const landmarker = new OnnxFaceMeshLandmarker();
const faces = new Map<string, { img: RgbImage; face: FittedFace }>();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-synth-'));

before(async () => {
  await landmarker.start();
  for (const name of PHOTOS) {
    const img = await readImageFile(path.join(FIXTURES, name));
    const fit = await fitFace(img, null, landmarker, FIT);
    assert.ok(fit.ok, `${name}: ${fit.ok ? '' : fit.reason}`);
    faces.set(name, { img, face: fit.face });
  }
});
after(async () => {
  await landmarker.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The mask's rendered opacity (0..255) at a landmark, averaged over a 3×3 patch. */
function alphaAt(crop: MaskedCrop, index: number): number {
  const x = Math.round(crop.points[index * 3]), y = Math.round(crop.points[index * 3 + 1]);
  let sum = 0, n = 0;
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      const px = Math.min(crop.width - 1, Math.max(0, x + dx)), py = Math.min(crop.height - 1, Math.max(0, y + dy));
      sum += crop.alpha[py * crop.width + px];
      n++;
    }
  return sum / n;
}

async function draw(name: string, variant: Variant, seed: number): Promise<MaskedCrop> {
  const { img, face } = faces.get(name)!;
  return drawMaskedCrop(img, face, variant, createRandom(seed), CROP);
}

const COVERED = 160;
const BARE = 60;

describe('mask placement on real faces', () => {
  test('a correctly worn mask covers the nose and the mouth but not the eyes', async () => {
    for (const name of PHOTOS)
      for (let seed = 1; seed <= 6; seed++) {
        const crop = await draw(name, 'correct', seed);
        assert.equal(crop.variant, 'correct');
        for (const i of [1, 4, 5, 13, 14, 152]) assert.ok(alphaAt(crop, i) > COVERED, `${name} seed ${seed}: landmark ${i} not covered (${alphaAt(crop, i)})`);
        for (const i of [145, 374, 159, 386]) assert.ok(alphaAt(crop, i) < BARE, `${name} seed ${seed}: eye landmark ${i} covered`);
      }
  });

  test('below the nose leaves the nose and nostrils bare but covers mouth and chin', async () => {
    for (const name of PHOTOS)
      for (let seed = 1; seed <= 6; seed++) {
        const crop = await draw(name, 'below_nose', seed);
        assert.equal(crop.variant, 'below_nose');
        for (const i of [1, 4, 5, 98, 327]) assert.ok(alphaAt(crop, i) < BARE, `${name} seed ${seed}: nose landmark ${i} covered (${alphaAt(crop, i)})`);
        for (const i of [14, 152]) assert.ok(alphaAt(crop, i) > COVERED, `${name} seed ${seed}: landmark ${i} not covered`);
      }
  });

  test('below the mouth leaves the mouth bare and covers the chin; raised when the crop ends at the chin', async () => {
    for (const name of PHOTOS)
      for (let seed = 1; seed <= 6; seed++) {
        const crop = await draw(name, 'below_mouth', seed);
        assert.ok(crop.variant === 'below_mouth' || crop.variant === 'below_nose');
        for (const i of [1, 4]) assert.ok(alphaAt(crop, i) < BARE, `${name}: nose covered`);
        if (crop.variant === 'below_mouth') {
          for (const i of [13, 14, 61, 291]) assert.ok(alphaAt(crop, i) < BARE, `${name} seed ${seed}: mouth landmark ${i} covered`);
          assert.ok(alphaAt(crop, 152) > COVERED, `${name} seed ${seed}: chin not covered`);
        }
      }
  });

  test('on a tilted face the landmarks and the mask follow the tilt', async () => {
    const { data, info } = await sharp(path.join(FIXTURES, '455.jpg')).rotate(25, { background: '#808080' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const img = { width: info.width, height: info.height, rgb: data };
    const fit = await fitFace(img, null, landmarker, FIT);
    assert.ok(fit.ok);
    const p = fit.face.points;
    const roll = (Math.atan2(p[263 * 3 + 1] - p[33 * 3 + 1], p[263 * 3] - p[33 * 3]) * 180) / Math.PI;
    assert.ok(Math.abs(roll - 25) < 5, `eye line at ${roll.toFixed(1)}°, picture turned 25°`);
    for (let seed = 1; seed <= 3; seed++) {
      const right = await drawMaskedCrop(img, fit.face, 'correct', createRandom(seed), CROP);
      for (const i of [1, 4, 13, 14]) assert.ok(alphaAt(right, i) > COVERED, `tilted, seed ${seed}: landmark ${i} not covered`);
      for (const i of [145, 374]) assert.ok(alphaAt(right, i) < BARE, `tilted, seed ${seed}: eye ${i} covered`);
      const low = await drawMaskedCrop(img, fit.face, 'below_nose', createRandom(seed), CROP);
      for (const i of [1, 98, 327]) assert.ok(alphaAt(low, i) < BARE, `tilted, seed ${seed}: nose ${i} covered`);
      assert.ok(alphaAt(low, 152) > COVERED, `tilted, seed ${seed}: chin not covered`);
    }
  });

  test('the mask changes the output pixels where it lies and not on the forehead', async () => {
    const { img, face } = faces.get('455.jpg')!;
    const box = faceCropRegion(face.box, img, CROP.margin);
    const original = await cropBox(img, box, CROP.maxSide);
    let seed = 1;
    let crop = await draw('455.jpg', 'correct', seed);
    while (crop.style.colour !== 'white' && seed < 200) crop = await draw('455.jpg', 'correct', ++seed);
    assert.equal(crop.style.colour, 'white');
    const out = await sharp(crop.jpeg).raw().toBuffer();
    const diff = (i: number) => {
      const x = Math.round(crop.points[i * 3]), y = Math.round(crop.points[i * 3 + 1]);
      const o = (y * crop.width + x) * 3;
      return (Math.abs(out[o] - original.rgb[o]!) + Math.abs(out[o + 1] - original.rgb[o + 1]!) + Math.abs(out[o + 2] - original.rgb[o + 2]!)) / 3;
    };
    assert.ok(diff(1) > 40 && diff(14) > 40, `mask pixels barely changed: nose ${diff(1)}, mouth ${diff(14)}`);
    assert.ok(diff(151) < 20, `forehead changed by ${diff(151)}`);
  });
});

describe('synthesize', () => {
  const faceDir = path.join(tmp, 'faces');
  before(() => {
    fs.mkdirSync(faceDir);
    for (const name of PHOTOS) fs.copyFileSync(path.join(FIXTURES, name), path.join(faceDir, name));
  });

  async function run(outDir: string, seed: number): Promise<SynthManifest> {
    return synthesize(folderFaces(faceDir), landmarker, { ...DEFAULT_SYNTH, outDir, seed, perFace: 4, incorrectShare: 0.5 });
  }

  test('writes crops of both classes, a manifest naming each source photo, and is deterministic for a seed', async () => {
    const a = await run(path.join(tmp, 'a'), 7);
    const b = await run(path.join(tmp, 'b'), 7);
    const c = await run(path.join(tmp, 'c'), 8);
    assert.equal(a.items.length, 12);
    assert.deepEqual(new Set(a.items.map((i) => i.label)), new Set(['mask', 'mask_incorrect']));
    assert.deepEqual(new Set(a.items.map((i) => i.source)), new Set(PHOTOS.map((p) => `faces/${p}`)));
    const onDisk = JSON.parse(fs.readFileSync(path.join(tmp, 'a/manifest.json'), 'utf8')) as SynthManifest;
    assert.equal(onDisk.generator, 'maskwatch synth');
    assert.deepEqual(onDisk.items, a.items);
    for (const item of a.items) {
      assert.ok(item.file.startsWith(`${item.label}/`));
      assert.equal((item.label === 'mask') === (item.variant === 'correct'), true);
      const meta = await sharp(path.join(tmp, 'a', item.file)).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.ok(Math.max(meta.width!, meta.height!) <= 256);
      assert.ok(fs.readFileSync(path.join(tmp, 'a', item.file)).equals(fs.readFileSync(path.join(tmp, 'b', item.file))), `${item.file} differs between runs`);
    }
    assert.deepEqual(a.items, b.items);
    assert.notDeepEqual(a.items.map((i) => i.style), c.items.map((i) => i.style));
  });

  test('a picture with no face and an unreadable file are skipped with a reason; the rest is produced', async () => {
    const mixed = path.join(tmp, 'mixed');
    fs.mkdirSync(mixed);
    fs.copyFileSync(path.join(FIXTURES, '455.jpg'), path.join(mixed, '455.jpg'));
    const plain = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="160" height="200"><defs><linearGradient id="g"><stop offset="0" stop-color="#6a8caf"/><stop offset="1" stop-color="#d8c8a0"/></linearGradient></defs><rect width="160" height="200" fill="url(#g)"/></svg>`);
    await sharp(plain).jpeg().toFile(path.join(mixed, 'plain.jpg'));
    fs.writeFileSync(path.join(mixed, 'broken.jpg'), 'this is not a picture');
    const lines: string[] = [];
    const previous = setLogSink((line) => lines.push(line));
    let code: number;
    try {
      code = await runSynth({ from: [mixed], vocRoots: [], out: path.join(tmp, 'mixed-out'), perFace: 1, incorrectShare: 0.7, seed: 1, margin: 0.15, minVocSide: 48, progress: false });
    } finally {
      setLogSink(previous);
    }
    assert.equal(code, 0);
    const manifest = JSON.parse(fs.readFileSync(path.join(tmp, 'mixed-out/manifest.json'), 'utf8')) as SynthManifest;
    assert.equal(manifest.items.length, 1);
    assert.equal(manifest.items[0].source, 'mixed/455.jpg');
    const reasons = new Map(manifest.skipped.map((s) => [s.source, s.reason]));
    assert.match(reasons.get('mixed/plain.jpg') ?? '', /no face/);
    assert.match(reasons.get('mixed/broken.jpg') ?? '', /unreadable/);
    assert.equal(lines.filter((l) => l.includes('WARN') && l.includes('mixed/broken.jpg')).length, 1);
    assert.equal(lines.filter((l) => l.includes('WARN') && l.includes('mixed/plain.jpg')).length, 1);
  });

  test('a run that makes no crop leaves the last run’s crops and manifest as they were; a new run replaces them whole', async () => {
    const out = path.join(tmp, 'kept');
    const first = await run(out, 3);
    const manifestBefore = fs.readFileSync(path.join(out, 'manifest.json'));
    const broken = path.join(tmp, 'broken-only');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'a.jpg'), 'not a picture');
    fs.writeFileSync(path.join(broken, 'b.jpg'), '');
    const none = await synthesize(folderFaces(broken), landmarker, { ...DEFAULT_SYNTH, outDir: out, seed: 3, perFace: 4, incorrectShare: 0.5 });
    assert.equal(none.items.length, 0);
    assert.deepEqual(fs.readFileSync(path.join(out, 'manifest.json')), manifestBefore, 'the manifest is the last good run’s');
    for (const item of first.items) assert.ok(fs.existsSync(path.join(out, item.file)), item.file);
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('.synth-')), [], 'no staging folder left');
    const again = await run(out, 4);
    const files = ['mask', 'mask_incorrect'].flatMap((d) => (fs.existsSync(path.join(out, d)) ? fs.readdirSync(path.join(out, d)).map((f) => `${d}/${f}`) : []));
    assert.deepEqual(files.sort(), again.items.map((i) => i.file).sort(), 'exactly the new run’s crops');
  });

  test('refuses to write into a folder of crops it did not make', async () => {
    const foreign = path.join(tmp, 'foreign');
    fs.mkdirSync(path.join(foreign, 'mask'), { recursive: true });
    fs.writeFileSync(path.join(foreign, 'mask/someone.jpg'), 'x');
    await assert.rejects(run(foreign, 1), /did not write/);
    assert.ok(fs.existsSync(path.join(foreign, 'mask/someone.jpg')));
  });
});
