import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { folderFaces, vocUnmaskedFaces } from '../src/workflows/synth/sources.js';
import { createRandom, hashSeed } from '../src/workflows/synth/random.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/synth');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-synth-src-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const object = (name: string, x0: number | string, y0: number, x1: number, y1: number) =>
  `<object><name>${name}</name><bndbox><xmin>${x0}</xmin><ymin>${y0}</ymin><xmax>${x1}</xmax><ymax>${y1}</ymax></bndbox></object>`;

test('VOC roots give their without_mask boxes of at least the minimum size, with photo ids the trainer uses', () => {
  const root = path.join(tmp, 'kaggle-like');
  fs.mkdirSync(path.join(root, 'annotations'), { recursive: true });
  fs.mkdirSync(path.join(root, 'images'));
  fs.copyFileSync(path.join(FIXTURES, '455.jpg'), path.join(root, 'images/p1.jpg'));
  fs.writeFileSync(
    path.join(root, 'annotations/p1.xml'),
    `<annotation><filename>p1.jpg</filename>${object('with_mask', 0, 0, 100, 100)}${object('without_mask', 10, 20, 90, 120)}` +
      `${object('without_mask', 5, 5, 30, 30)}${object('without_mask', 'x', 5, 60, 60)}</annotation>`,
  );
  fs.writeFileSync(path.join(root, 'annotations/p2.xml'), `<annotation><filename>gone.jpg</filename>${object('without_mask', 0, 0, 80, 80)}</annotation>`);
  const scan = vocUnmaskedFaces(root, 48);
  assert.deepEqual(scan.faces, [{ photoId: 'kaggle-like/images/p1.jpg', file: path.join(root, 'images/p1.jpg'), region: { x: 10, y: 20, w: 80, h: 100 }, boxIndex: 1 }]);
  assert.equal(scan.tooSmall, 1);
  assert.deepEqual(scan.broken.map((b) => b.reason), ['box 3 has bad coordinates', 'image file missing']);
  assert.throws(() => vocUnmaskedFaces(path.join(tmp, 'nowhere'), 48), /no annotations/);
});

test('folders give every picture, sorted, with ids relative to the folder', () => {
  const ids = folderFaces(FIXTURES).map((f) => f.photoId);
  assert.deepEqual(ids, ['synth/455.jpg', 'synth/91.jpg', 'synth/sunli_0104.jpg']);
  assert.throws(() => folderFaces(path.join(tmp, 'missing')), /missing: no such folder$/);
  const file = path.join(tmp, 'a-file.jpg');
  fs.writeFileSync(file, 'x');
  assert.throws(() => folderFaces(file), /a-file\.jpg: not a folder$/);
});

test('seeded randomness repeats for a seed and differs between seeds', () => {
  const draw = (seed: number) => Array.from({ length: 8 }, ((r) => () => r.next())(createRandom(seed)));
  assert.deepEqual(draw(5), draw(5));
  assert.notDeepEqual(draw(5), draw(6));
  assert.equal(hashSeed(1, 'a/b.jpg', 0), hashSeed(1, 'a/b.jpg', 0));
  assert.notEqual(hashSeed(1, 'a/b.jpg', 0), hashSeed(1, 'a/b.jpg', 1));
});
