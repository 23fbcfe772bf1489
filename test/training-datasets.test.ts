import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { setLogSink } from '../src/core/log.js';
import { faceCropRegion, faceInputs, faceView } from '../src/vision/face-crop.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { loadLabelledData } from '../src/workflows/data/labelled-data.js';
import { detectKind, parseDataSpec, parseVocXml, scanRoot } from '../src/workflows/data/datasets.js';
import { probePhotos, samplesOf } from '../src/workflows/data/photos.js';

const FIXTURE = path.resolve('test/fixtures/dataset');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mw-datasets-'));
}

test('VOC root: one face per object, labels mapped, photo ids from the root name', async () => {
  const root = path.join(FIXTURE, 'voc');
  assert.equal(detectKind({ path: root }), 'voc');
  const scanned = scanRoot({ path: root });
  assert.equal(scanned.photos.length, 2);
  const photo = scanned.photos.find((p) => p.photoId === 'voc/images/maksssksksss145.jpg');
  assert.ok(photo, 'photo id is <root name>/<path in root>');
  const xml = parseVocXml(fs.readFileSync(path.join(root, 'annotations/maksssksksss145.xml'), 'utf8'));
  assert.equal(photo.faces.length, xml.objects.length);
  const expected = xml.objects.map((o) => ({ with_mask: 'mask', without_mask: 'no_mask', mask_weared_incorrect: 'mask_incorrect' })[o.name]);
  assert.deepEqual(photo.faces.map((f) => f.label), expected);
  assert.deepEqual(photo.faces[0].box, xml.objects[0].box);
});

test('class folders: label from the folder name, whole picture is the face', async () => {
  const root = path.join(FIXTURE, 'crops');
  assert.equal(detectKind({ path: root }), 'folders');
  const scanned = scanRoot({ path: root });
  const labels = new Set(scanned.photos.map((p) => p.faces[0].label));
  assert.deepEqual([...labels].sort(), ['mask', 'mask_incorrect', 'no_mask']);
  const { probes } = await probePhotos(scanned.photos, null);
  const samples = samplesOf(scanned.photos, probes);
  assert.equal(samples.length, scanned.photos.length);
  assert.ok(samples.every((s) => s.box === null && s.faceSize === 64));
  assert.ok(samples.some((s) => s.id === 'crops/mask/maksssksksss0-1.jpg#0'));
});

test('flat folder needs a label (ROOT=label) unless its name says it', () => {
  const dir = tempDir();
  const flat = path.join(dir, 'pictures');
  fs.mkdirSync(flat);
  fs.copyFileSync(path.join(FIXTURE, 'crops/no_mask/unmasked-460.jpg'), path.join(flat, 'a.jpg'));
  assert.throws(() => detectKind({ path: flat }), /flat folder.*=no_mask/);
  const spec = parseDataSpec(`${flat}=without_mask`);
  assert.deepEqual(spec, { path: flat, label: 'no_mask' });
  const scanned = scanRoot(spec);
  assert.equal(scanned.kind, 'flat');
  assert.equal(scanned.photos[0].photoId, 'pictures/a.jpg');
  assert.throws(() => parseDataSpec(`${flat}=hat`), /not a label/);
  const named = path.join(dir, 'unmasked-faces');
  fs.renameSync(flat, named);
  assert.equal(scanRoot({ path: named }).photos[0].faces[0].label, 'no_mask');
  fs.rmSync(dir, { recursive: true });
});

test('margin crop: square of side max(w,h)·(1+2·margin) around the box, clipped at the edges', async () => {
  assert.deepEqual(faceCropRegion({ x: 100, y: 100, w: 40, h: 50 }, { width: 400, height: 300 }, 0.15), { x: 88, y: 93, w: 65, h: 65 });
  assert.deepEqual(faceCropRegion({ x: 0, y: 10, w: 40, h: 40 }, { width: 400, height: 300 }, 0.25), { x: 0, y: 0, w: 50, h: 60 });
  // The crop shows the box: a red box on grey becomes mostly red in the centre of the crop.
  const width = 200;
  const height = 120;
  const rgb = Buffer.alloc(width * height * 3, 128);
  for (let y = 40; y < 80; y++) for (let x = 150; x < 190; x++) rgb.set([255, 0, 0], (y * width + x) * 3);
  const crop = faceInputs([faceView({ width, height, rgb }, { x: 150, y: 40, w: 40, h: 40 }, 0.15)], 32);
  const centre = (16 * 32 + 16) * 3;
  assert.deepEqual([...crop.subarray(centre, centre + 3)].map((v) => Math.round((v + 1) * 127.5)), [255, 0, 0]);
  assert.notDeepEqual([...crop.subarray(0, 3)].map((v) => Math.round((v + 1) * 127.5)), [255, 0, 0]);
});

test('several roots at once; a bad picture gets one warning, is skipped and counted', async () => {
  const dir = tempDir();
  const crops = path.join(dir, 'crops');
  fs.cpSync(path.join(FIXTURE, 'crops'), crops, { recursive: true });
  fs.writeFileSync(path.join(crops, 'mask', 'broken.jpg'), Buffer.from('not a jpeg at all'));
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    const data = await loadLabelledData([{ path: crops }, { path: path.join(FIXTURE, 'voc') }], { seed: 1, fractions: [0.7, 0.15, 0.15], duplicateDistance: 3 }, null);
    assert.equal(data.badPictures, 1);
    assert.equal(lines.filter((l) => l.includes('broken.jpg')).length, 1);
    assert.equal(data.samples.filter((s) => s.photoId.startsWith('voc/')).length, 6);
    assert.equal(data.samples.filter((s) => s.photoId.startsWith('crops/')).length, 18);
    const voc = data.samples.find((s) => s.photoId === 'voc/images/maksssksksss666.jpg')!;
    assert.equal(voc.faceSize, Math.min(voc.box!.w, voc.box!.h));
    const img = await readImageFile(voc.file);
    assert.ok(img.width > 0 && (await sharp(voc.file).metadata()).width === img.width);
  } finally {
    setLogSink(previous);
    fs.rmSync(dir, { recursive: true });
  }
});
