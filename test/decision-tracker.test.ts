import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IouTracker, iou } from '../src/decision/tracker.js';
import type { Box, ClassifiedFace, Label, Probs } from '../src/core/types.js';

const OPTS = { iouThreshold: 0.3, window: 5, minFrames: 3, confidence: 0.6, lostAfterMs: 1000, newPersonAfterGapMs: 250 };

function probs(label: Label, p: number): Probs {
  const rest = (1 - p) / 2;
  return { mask: rest, no_mask: rest, mask_incorrect: rest, [label]: p } as Probs;
}

function face(box: Box, label: Label, p = 0.9): ClassifiedFace {
  const pr = probs(label, p);
  return { box, score: pr[label], keypoints: [], label, probs: pr };
}

const at = (x: number, y = 100, s = 100): Box => ({ x, y, w: s, h: s });

test('iou of boxes', () => {
  assert.equal(iou(at(0), at(0)), 1);
  assert.equal(iou(at(0), at(200)), 0);
  assert.ok(Math.abs(iou(at(0), at(50)) - 50 / 150) < 1e-9);
});

test('one person: decided once after minFrames, with the median label, never again', () => {
  const t = new IouTracker(OPTS);
  const seen = [];
  for (let i = 0; i < 10; i++) {
    const u = t.update(i * 100, [face(at(100 + i * 5), 'no_mask', 0.8)]);
    seen.push(u.decided.length);
    assert.equal(u.inView, i >= 2 ? 1 : 0, 'a person from the minFrames-th frame');
    assert.equal(u.showing, i >= 2 ? 'no_mask' : null);
    if (u.decided.length) {
      const d = u.decided[0];
      assert.equal(d.label, 'no_mask');
      assert.equal(d.frames, 3);
      assert.equal(d.firstSeenAt, 0);
      assert.equal(d.decidedAt, 200);
      assert.equal(d.durationMs, 200);
      assert.ok(Math.abs(d.score - 0.8) < 1e-9);
    }
  }
  assert.deepEqual(seen, [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
});

test('the median ignores a single wild score; no decision while the median is below confidence', () => {
  const t = new IouTracker(OPTS);
  // mask, mask, a wild no_mask, mask → decided mask on the 4th frame only if the median says so
  const seq: Array<[Label, number]> = [
    ['mask', 0.9],
    ['no_mask', 0.95],
    ['mask', 0.85],
  ];
  let decided = null;
  seq.forEach(([l, p], i) => {
    const u = t.update(i * 100, [face(at(100), l, p)]);
    if (u.decided.length) decided = u.decided[0];
  });
  assert.ok(decided);
  assert.equal((decided as { label: Label }).label, 'mask');

  const unsure = new IouTracker(OPTS);
  for (let i = 0; i < 8; i++) assert.equal(unsure.update(i * 100, [face(at(100), 'mask', 0.5)]).decided.length, 0);
  const [end] = unsure.update(700 + OPTS.lostAfterMs + 1, []).left;
  assert.equal(end?.label, null);
  assert.equal(end?.unsure?.label, 'mask', 'an undecided person says what its median was, for the log');
  assert.ok(end!.unsure!.score < OPTS.confidence);
});

test('a face seen in fewer than minFrames frames is no person: no id taken, not in view, no entered, no left', () => {
  const t = new IouTracker(OPTS);
  for (const now of [0, 100]) {
    const u = t.update(now, [face(at(100), 'mask', 0.99)]);
    assert.deepEqual([u.entered, u.decided, u.inView], [[], [], 0]);
  }
  assert.deepEqual(t.update(100 + OPTS.lostAfterMs + 1, []).left, [], 'a two-frame false detection leaves nothing behind');
  // The next real face is person 1, so the numbers people get have no gaps.
  const seen = [0, 1, 2].map((i) => t.update(2000 + i * 100, [face(at(400), 'no_mask', 0.9)]));
  assert.deepEqual(seen.map((u) => u.entered), [[], [], [1]]);
  assert.equal(seen[2]!.decided[0]?.trackId, 1, 'entered and decided on the same frame, entered first in the update');
  assert.equal(seen[2]!.decided[0]?.firstSeenAt, 2000, 'its time in view counts from its first frame');
});

test('a person unseen for lostAfterMs ends; coming back is a new track and a new decision', () => {
  const t = new IouTracker(OPTS);
  const decisions = [];
  for (let i = 0; i < 4; i++) decisions.push(...t.update(i * 100, [face(at(100), 'mask')]).decided);
  let u = t.update(900, []);
  assert.equal(u.inView, 1, 'a short gap keeps the track');
  assert.equal(u.showing, 'mask');
  u = t.update(1400, []);
  assert.equal(u.inView, 0);
  assert.equal(u.showing, null);
  for (let i = 0; i < 4; i++) decisions.push(...t.update(2000 + i * 100, [face(at(100), 'mask')]).decided);
  assert.equal(decisions.length, 2);
  assert.notEqual(decisions[0].trackId, decisions[1].trackId);
});

test('a missed frame within lostAfterMs continues the same track', () => {
  const t = new IouTracker(OPTS);
  const d = [];
  d.push(...t.update(0, [face(at(100), 'no_mask')]).decided);
  d.push(...t.update(100, []).decided);
  d.push(...t.update(200, [face(at(105), 'no_mask')]).decided);
  d.push(...t.update(300, [face(at(110), 'no_mask')]).decided);
  assert.equal(d.length, 1);
  assert.equal(d[0].frames, 3);
});

test('two people: matched by overlap, each decided once; showing is the most severe', () => {
  const t = new IouTracker(OPTS);
  const all = [];
  let u;
  for (let i = 0; i < 5; i++) {
    // listed in swapped order every other frame: matching must not depend on order
    const a = face(at(50 + i * 3), 'mask');
    const b = face(at(400 - i * 3), 'mask_incorrect');
    u = t.update(i * 100, i % 2 ? [b, a] : [a, b]);
    all.push(...u.decided);
  }
  assert.equal(all.length, 2);
  assert.deepEqual(all.map((d) => d.label).sort(), ['mask', 'mask_incorrect']);
  assert.equal(u!.inView, 2);
  assert.equal(u!.showing, 'mask_incorrect');
  for (let i = 5; i < 9; i++) all.push(...t.update(i * 100, [face(at(50), 'mask'), face(at(400), 'mask_incorrect'), face(at(250, 300), 'no_mask')]).decided);
  assert.equal(all.length, 3);
  assert.equal(t.update(900, [face(at(250, 300), 'no_mask')]).showing, 'no_mask');
});

test('a fast move with no overlap continues the track by centroid distance', () => {
  const t = new IouTracker(OPTS);
  const d = [];
  d.push(...t.update(0, [face(at(100), 'no_mask')]).decided);
  d.push(...t.update(100, [face(at(190), 'no_mask')]).decided); // IoU ≈ 0.05, centre 90 px away
  d.push(...t.update(200, [face(at(280), 'no_mask')]).decided);
  assert.equal(d.length, 1);
  assert.equal(d[0].frames, 3);
  // far away and a different size: a new person
  const small = { x: 10, y: 400, w: 30, h: 30 };
  for (const now of [300, 400]) t.update(now, [face(at(280), 'no_mask'), face(small, 'mask')]);
  const u = t.update(500, [face(at(280), 'no_mask'), face(small, 'mask')]);
  assert.deepEqual([u.inView, u.entered], [2, [2]]);
});

test('entered and left: a new face starts a track, a face unseen for lostAfterMs ends it with its label', () => {
  const t = new IouTracker(OPTS);
  const first = t.update(0, [face(at(100), 'mask')]);
  assert.deepEqual(first.entered, [], 'one frame is not yet a person');
  assert.deepEqual(first.left, []);
  const entered = [1, 2, 3].map((i) => t.update(i * 100, [face(at(100), 'mask')]).entered);
  assert.deepEqual(entered, [[], [1], []], 'a person on the minFrames-th frame, once');
  const gone = t.update(300 + OPTS.lostAfterMs + 1, []);
  assert.equal(gone.inView, 0);
  assert.deepEqual(gone.left, [{ trackId: 1, label: 'mask', frames: 4, durationMs: 300 }]);
  const undecided = new IouTracker(OPTS);
  for (const now of [0, 100, 200]) undecided.update(now, [face(at(100), 'mask', 0.4)]);
  const [end] = undecided.update(200 + OPTS.lostAfterMs + 1, []).left;
  assert.deepEqual({ ...end, unsure: undefined }, { trackId: 1, label: null, frames: 3, durationMs: 200, unsure: undefined });
  assert.equal(end?.unsure?.label, 'mask');
});

/** Frames of one face at `box` every 100 ms from `from`, `n` of them; the updates they gave. */
function play(t: IouTracker, from: number, n: number, label: Label, box = at(100), p = 0.9) {
  return Array.from({ length: n }, (_, i) => t.update(from + i * 100, [face(box, label, p)]));
}

test('someone else in the same spot after a gap shorter than lostAfterMs: the first leaves, the second enters, decided', () => {
  const t = new IouTracker(OPTS);
  const first = play(t, 0, 5, 'mask'); // seen 0–400 ms, decided mask
  assert.equal(first.flatMap((u) => u.decided).length, 1);
  t.update(500, []);
  t.update(600, []);
  // 300 ms between sightings (≥ newPersonAfterGapMs 250, < lostAfterMs 1000), then a face with another label
  const second = play(t, 700, 4, 'no_mask');
  assert.deepEqual(second.slice(0, 2).map((u) => [u.left.length, u.decided.length, u.showing]), [[0, 0, 'mask'], [0, 0, 'mask']], 'judged as a new face: minFrames frames first');
  const split = second[2]!;
  assert.deepEqual(split.left, [{ trackId: 1, label: 'mask', frames: 5, durationMs: 400 }]);
  assert.deepEqual(split.entered, [2]);
  assert.equal(split.decided.length, 1);
  assert.deepEqual({ ...split.decided[0] }, { trackId: 2, label: 'no_mask', score: 0.9, frames: 3, durationMs: 200, firstSeenAt: 700, decidedAt: 900 });
  assert.deepEqual([split.showing, split.inView], ['no_mask', 1]);
  assert.deepEqual(second[3]!.decided, [], 'decided once');
  // The second person leaves lostAfterMs after their last frame, with their own label and frames.
  const gone = t.update(1000 + OPTS.lostAfterMs + 1, []);
  assert.deepEqual(gone.left, [{ trackId: 2, label: 'no_mask', frames: 4, durationMs: 300 }]);
});

test('no split: the same label after a gap, a gap shorter than newPersonAfterGapMs, a label that changes without a gap, or the rule off', () => {
  const decisions = (opts: typeof OPTS, frames: Array<[number, Label | null]>) => {
    const t = new IouTracker(opts);
    return frames.flatMap(([now, label]) => t.update(now, label ? [face(at(100), label)] : []).decided.map((d) => `${d.trackId}:${d.label}`));
  };
  const seen = (from: number, n: number, label: Label): Array<[number, Label]> => Array.from({ length: n }, (_, i) => [from + i * 100, label]);
  // the same person after a 300 ms miss, then wavering: the frames since the gap agreed, so the later change is theirs
  assert.deepEqual(decisions(OPTS, [...seen(0, 4, 'mask'), [400, null], [500, null], ...seen(600, 3, 'mask'), ...seen(900, 4, 'mask_incorrect')]), ['1:mask']);
  // one missed frame: 200 ms between sightings, below newPersonAfterGapMs
  assert.deepEqual(decisions(OPTS, [...seen(0, 4, 'mask'), [400, null], ...seen(500, 4, 'no_mask')]), ['1:mask']);
  // another label without any gap: the same face wavering, never split
  assert.deepEqual(decisions(OPTS, [...seen(0, 4, 'mask'), ...seen(400, 6, 'mask_incorrect')]), ['1:mask']);
  // the rule off: people less than lostAfterMs apart in one spot are one person, as before
  assert.deepEqual(decisions({ ...OPTS, newPersonAfterGapMs: 0 }, [...seen(0, 4, 'mask'), [400, null], [500, null], ...seen(600, 4, 'no_mask')]), ['1:mask']);
  // and on, the same frames: two people
  assert.deepEqual(decisions(OPTS, [...seen(0, 4, 'mask'), [400, null], [500, null], ...seen(600, 4, 'no_mask')]), ['1:mask', '2:no_mask']);
});

test('after a gap an undecided newcomer is not split off: below confidence the first person stays, and the frames since the gap are dropped after a window', () => {
  const t = new IouTracker(OPTS);
  play(t, 0, 4, 'mask');
  t.update(400, []);
  t.update(500, []);
  const unsure = play(t, 600, OPTS.window, 'no_mask', at(100), 0.5); // best label no_mask but median 0.5 < confidence 0.6
  assert.ok(unsure.every((u) => u.left.length === 0 && u.decided.length === 0 && u.showing === 'mask'));
  // a window later the gap's frames are forgotten: a confident change now is the same face wavering
  const later = play(t, 600 + OPTS.window * 100, 4, 'no_mask');
  assert.ok(later.every((u) => u.left.length === 0 && u.decided.length === 0));
});

test('at 3 frames/s a gap is a frame without the face, not the time between frames', () => {
  const decisions = (frames: Array<[number, Label | null]>) => {
    const t = new IouTracker(OPTS);
    return frames.flatMap(([now, label]) => t.update(now, label ? [face(at(100), label)] : []).decided.map((d) => `${d.trackId}:${d.label}`));
  };
  const seen = (from: number, n: number, label: Label): Array<[number, Label]> => Array.from({ length: n }, (_, i) => [from + i * 300, label]);
  // every frame comes 300 ms after the one before (≥ newPersonAfterGapMs): one frame without the face, then another label
  assert.deepEqual(decisions([...seen(0, 4, 'mask'), [1200, null], ...seen(1500, 4, 'no_mask')]), ['1:mask', '2:no_mask']);
  // no frame without the face: a label that changes is the same face wavering, however far apart the frames are
  assert.deepEqual(decisions([...seen(0, 4, 'mask'), ...seen(1200, 5, 'no_mask')]), ['1:mask']);
});
