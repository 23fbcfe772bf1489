/**
 * `maskwatch eval` end to end (the door evaluation) and the 95 % intervals beside its figures: the real SSD and the
 * shipped classifier on the two fixture photos, and the scoring and interval arithmetic on faces made up here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../src/config/load.js';
import { ARGMAX, doorReport, scoreDoor, verdictOf, type DoorFace } from '../src/workflows/eval/door-eval.js';
import { formatDoorReport } from '../src/workflows/eval/door-report.js';
import { runDoorEvaluation } from '../src/workflows/eval/door-run.js';
import { bootstrapInterval, wilsonInterval } from '../src/workflows/eval/intervals.js';
import { doorMistakes } from '../src/workflows/eval/mistakes-sheet.js';

const VOC = path.resolve('test/fixtures/dataset/voc');
const near = (a: number, b: number, eps = 1e-3) => Math.abs(a - b) <= eps;

test('Wilson intervals: the textbook values, 0/n and n/n stay inside 0..1, no trials means nothing known', () => {
  const [lo, hi] = wilsonInterval(3, 6);
  assert.ok(near(lo, 0.1876) && near(hi, 0.8124), `${lo} ${hi}`);
  const [lo0, hi0] = wilsonInterval(0, 9);
  assert.equal(lo0, 0);
  assert.ok(near(hi0, 0.2991), String(hi0));
  const [loN, hiN] = wilsonInterval(6, 6);
  assert.ok(near(loN, 0.6097) && hiN === 1, `${loN} ${hiN}`);
  assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
  assert.throws(() => wilsonInterval(7, 6), /7 successes in 6 trials/);
});

test('the bootstrap draws whole groups, is seeded, and collapses where every group says the same', () => {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // Two photos of four faces each, all right in one and all wrong in the other: a resample holds 0, 1 or 2 copies of
  // the good photo, so the mean is 0, 0.5 or 1 and the 95 % interval spans 0..1. Drawn face by face it would not.
  const groups = [[1, 1, 1, 1], [0, 0, 0, 0]];
  assert.deepEqual(bootstrapInterval(groups, mean), [0, 1]);
  const mixed = Array.from({ length: 30 }, (_, i) => [i % 3 ? 1 : 0, 1]);
  const a = bootstrapInterval(mixed, mean);
  assert.deepEqual(bootstrapInterval(mixed, mean), a, 'same seed, same interval');
  assert.ok(a[0] < mean(mixed.flat()) && mean(mixed.flat()) < a[1], `${a} around ${mean(mixed.flat())}`);
  assert.deepEqual(bootstrapInterval([[0.5], [0.5]], mean), [0.5, 0.5]);
});

function face(photoId: string, label: DoorFace['label'], probs: [number, number, number] | null): DoorFace {
  return {
    photoId,
    label,
    box: { x: 100, y: 100, w: 60, h: 60 },
    faceSize: 60,
    band: '20–40 %',
    iou: probs ? 0.7 : 0,
    probs: probs && { mask: probs[0], no_mask: probs[1], mask_incorrect: probs[2] },
    detectorScores: null,
  };
}

test('a face the detector missed counts as wrong, and the door intervals hold the figures they are about', () => {
  const faces = [
    face('a', 'mask', [0.9, 0.05, 0.05]),
    face('a', 'mask', null),
    face('b', 'no_mask', [0.1, 0.8, 0.1]),
    face('c', 'mask_incorrect', [0.6, 0.1, 0.3]),
    face('d', 'mask_incorrect', [0.1, 0.1, 0.8]),
  ];
  const s = scoreDoor(faces);
  assert.deepEqual([s.perClass.mask.n, s.perClass.mask.detected, s.perClass.mask.correct], [2, 1, 1]);
  assert.equal(s.perClass.mask.recall, 0.5, 'the missed mask face is not forgiven');
  assert.equal(s.perClass.mask_incorrect.correct, 1);
  assert.equal(s.confusion[0]![3], 1, 'missed, in the column after the labels');
  const r = doorReport({ faces, photos: 4, unmatched: 0 }, 32, ARGMAX);
  assert.equal(r.doorIntervals.photos, 4);
  assert.deepEqual(r.doorIntervals.perClass.mask.recall, wilsonInterval(1, 2));
  const [lo, hi] = r.doorIntervals.macroF1;
  assert.ok(lo <= r.door.macroF1 && r.door.macroF1 <= hi && hi - lo > 0.1, `${lo}..${hi} around ${r.door.macroF1}`);
  assert.match(formatDoorReport('made up', r), /e2e {4}mask 0\.50 \(1\/2, 0\.09–0\.91\)/);
});

test("a face whose best score stays below the tracker's confidence is undecided: found, but no light, and wrong", () => {
  const faces = [face('a', 'mask', [0.9, 0.05, 0.05]), face('b', 'mask_incorrect', [0.35, 0.1, 0.55]), face('c', 'no_mask', [0.5, 0.45, 0.05])];
  const argmax = scoreDoor(faces, ARGMAX);
  assert.equal(argmax.perClass.mask_incorrect.correct, 1, 'its best label is right');
  const rule = { fusionWeight: 0, confidence: 0.6 };
  assert.equal(verdictOf(faces[1]!, rule), 'undecided');
  const s = scoreDoor(faces, rule);
  assert.deepEqual([s.perClass.mask_incorrect.detected, s.perClass.mask_incorrect.undecided, s.perClass.mask_incorrect.correct], [1, 1, 0]);
  assert.equal(s.confusion[2]![4], 1, 'undecided, in the last column');
  assert.equal(s.perClass.mask.precision, 1, 'an undecided no_mask face is not a wrong mask light');
  assert.ok(argmax.perClass.mask.precision < 1);
  const r = doorReport({ faces, photos: 3, unmatched: 0 }, 32, rule);
  assert.equal(r.confidence, 0.6);
  assert.match(formatDoorReport('made up', r), /undecided at confidence 0\.6 \(no light\): mask 0\/1, no_mask 1\/1, mask_incorrect 1\/1/);
});

test('the mistakes sheet holds exactly the door faces without the right light: missed, undecided, wrong; by label', () => {
  const small = { ...face('e', 'mask', null), faceSize: 20 };
  const far = { ...face('f', 'no_mask', null), band: '5–10 %' as const };
  const faces = [
    face('a', 'mask', [0.9, 0.05, 0.05]),
    face('a', 'mask_incorrect', [0.7, 0.1, 0.2]),
    face('b', 'mask', null),
    face('c', 'no_mask', [0.5, 0.45, 0.05]),
    face('d', 'mask', [0.1, 0.2, 0.7]),
    small,
    far,
  ];
  const mistakes = doorMistakes(faces, { fusionWeight: 0, confidence: 0.6 }, 32);
  assert.deepEqual(mistakes.map((m) => `${m.face.photoId} ${m.face.label} → ${m.shown}`), ['d mask → mask_incorrect', 'b mask → missed', 'c no_mask → undecided', 'a mask_incorrect → mask']);
  assert.deepEqual(mistakes[2]!.best, { label: 'mask', score: 0.5 }, 'an undecided face keeps the best label it fell short with');
  assert.equal(mistakes[1]!.best, null);
});

test('maskwatch eval on Pascal VOC photos: the real detector and classifier, every hand-drawn face scored, JSON and PNG', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-door-'));
  const json = path.join(dir, 'door.json');
  const png = path.join(dir, 'door.png');
  const detector = { ...loadConfig({ env: {} }).config.detector, precision: 'float' as const };
  const result = await runDoorEvaluation({
    modelDir: 'models/maskwatch-default', precision: 'float', detector, data: [VOC], split: 'test', minFace: 32,
    rules: [ARGMAX, { fusionWeight: 1, confidence: 0 }], json, png, mistakes: path.join(dir, 'mistakes.png'), cacheDir: path.join(dir, 'cache'), progress: false,
  });
  assert.equal(result.run.photos, 2);
  assert.equal(result.run.faces.length, 6, 'every hand-drawn face of both photos');
  // maksssksksss666: three faces of 82–100 px in a 400 px photo (door distance); maksssksksss145: three of 20–23 px.
  const [, atOne] = result.reports;
  const r = result.reports[0]!;
  assert.equal(r.door.faces, 3);
  assert.deepEqual([r.door.perClass.mask.n, r.door.perClass.mask_incorrect.n], [2, 1]);
  assert.equal(r.door.perClass.mask.detected + r.door.perClass.mask_incorrect.detected, 3, 'the SSD finds all three large faces');
  assert.equal(r.door.perClass.mask.correct, 2, 'both masked faces get mask');
  assert.equal(r.doorIntervals.photos, 1);
  assert.equal(atOne!.fusionWeight, 1);
  const written = JSON.parse(fs.readFileSync(json, 'utf8')) as { reports: Array<{ door: { faces: number; perClass: { mask: { correct: number } } }; doorIntervals: { perClass: { mask: { recall: number[] } } } }> };
  assert.equal(written.reports.length, 2);
  assert.equal(written.reports[0]!.door.perClass.mask.correct, 2);
  assert.ok(near(written.reports[0]!.doorIntervals.perClass.mask.recall[0]!, wilsonInterval(2, 2)[0], 1e-4));
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! >= 1000);
  const wrong = doorMistakes(result.run.faces, ARGMAX, 32).length;
  const sheet = await sharp(path.join(dir, 'mistakes.png')).metadata();
  assert.equal(sheet.height, 24 + Math.ceil(wrong / 8) * (136 + 42), `a header and one row of tiles per 8 of the ${wrong} door faces without the right light`);
  const text = formatDoorReport(result.title, r);
  assert.match(text, /found {2}mask 1\.00 \(2\/2, 0\.34–1\.00\)/);
  assert.match(text, /no_mask – \(0 faces\)/, 'no interval for a class with no door face');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('eval resolves detector precision auto as the daemon does: the file it ran is named, and the cached choice is kept', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-door-auto-'));
  const detector = { ...loadConfig({ env: {} }).config.detector, precision: 'auto' as const };
  const run = () => runDoorEvaluation({ modelDir: 'models/maskwatch-default', precision: 'float', detector, data: [VOC], split: 'test', minFace: 32, rules: [{ fusionWeight: 1, confidence: 0.6 }], json: path.join(dir, 'door.json'), cacheDir: path.join(dir, 'cache'), progress: false, stateDir: path.join(dir, 'state') });
  const first = await run();
  const ran = (JSON.parse(fs.readFileSync(path.join(dir, 'door.json'), 'utf8')) as { detector: { precision: string } }).detector.precision;
  assert.ok(ran === 'int8' || ran === 'float', ran);
  assert.match(first.title, new RegExp(`with ssd 260 ${ran},`));
  assert.ok(fs.existsSync(path.join(dir, 'state', 'precision-choice.json')), 'the choice is cached in the state folder');
  const second = await run();
  assert.equal(second.title, first.title, 'the cached choice, not a new race');
  fs.rmSync(dir, { recursive: true, force: true });
});
