/**
 * The daemon's detector in a thread of its own (threaded-detector.ts), with the real SSD: the same faces as the detector
 * on this thread, frame after frame; a model that cannot be used is one ModelError line from start(); a frame the
 * detector rejects fails alone; a thread that dies fails the frame in flight and is started again for the next one
 * (and, if that start fails, not again for a pause);
 * its log lines come out of this thread's logger; detect() after close() is an error.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { ModelError } from '../src/core/errors.js';
import { setLogLevel, setLogSink } from '../src/core/log.js';
import type { Frame } from '../src/core/types.js';
import { loadConfig } from '../src/config/load.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import type { ResolvedDetectorSettings } from '../src/vision/start-face-detector.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { createDaemonDetector, detectorGetsThread, ThreadedFaceDetector } from '../src/vision/threaded-detector.js';
import { ROOT } from './helpers/cli.js';

const FACES = path.join(ROOT, 'test/fixtures/faces');
const SETTINGS: ResolvedDetectorSettings = { ...loadConfig({ env: {} }).config.detector, model: 'ssd', precision: 'int8' };
const closing: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const d of closing) await d.close();
});

async function frames(): Promise<Frame[]> {
  const out: Frame[] = [];
  for (const name of ['sample1.jpg', 'maksssksksss0.jpg', 'masked1.jpg', 'sample5.jpg']) out.push({ ...(await readImageFile(path.join(FACES, name))), seq: out.length + 1, capturedAt: 0 });
  return out;
}

async function started(settings = SETTINGS): Promise<ThreadedFaceDetector> {
  const d = new ThreadedFaceDetector(settings);
  closing.push(d);
  await d.start();
  return d;
}

test('in its own thread the detector finds the same faces as on this one, frame after frame, and leaves the frame as it was', async () => {
  const here = await createFaceDetector(SETTINGS);
  closing.push(here);
  const there = await started();
  assert.equal(there.inputSize, here.inputSize);
  const all = await frames();
  for (const round of [1, 2]) {
    for (const frame of all) {
      const before = Buffer.from(frame.rgb);
      const want = await here.detect(frame);
      assert.deepEqual(await there.detect(frame), want, `${frame.width}×${frame.height} frame ${frame.seq}, round ${round}`);
      assert.ok(before.equals(frame.rgb), 'the caller keeps its pixels');
    }
  }
  assert.ok((await there.detect(all[1]!)).length >= 2, 'the masked photo has its faces');
});

test('a model that cannot be used is one ModelError from start(), and nothing keeps running', async () => {
  const d = new ThreadedFaceDetector({ ...SETTINGS, inputSize: 100 });
  await assert.rejects(d.start(), (err: Error) => err instanceof ModelError && /ssd detector: input 100×100/.test(err.message) && !err.message.includes('\n'));
  await d.close();
});

test('a frame the detector rejects fails alone; the next frame is answered', async () => {
  const d = await started();
  const [good] = await frames();
  const short: Frame = { ...good!, rgb: good!.rgb.subarray(0, 300) };
  await assert.rejects(d.detect(short), /image 800×\d+ has 300 bytes/);
  assert.ok((await d.detect(good!)).length >= 1);
});

test('a thread that dies fails the frame in flight with one error; the next frame starts a new thread and is answered', async () => {
  const d = await started();
  const [good] = await frames();
  const want = await d.detect(good!);
  const worker = (d as unknown as { worker: Worker }).worker;
  const inFlight = d.detect(good!);
  await worker.terminate();
  await assert.rejects(inFlight, /detector thread exited/);
  assert.deepEqual(await d.detect(good!), want);
  assert.notEqual((d as unknown as { worker: Worker }).worker, worker, 'a new thread');
});

test('a thread that cannot start again fails frames with its error for a pause, without a thread per frame', async () => {
  const settings: ResolvedDetectorSettings = { ...SETTINGS };
  const d = await started(settings);
  const [good] = await frames();
  await (d as unknown as { worker: Worker }).worker.terminate();
  // What the thread would open next is now unusable (as a model file replaced by a broken one would be).
  settings.inputSize = 100;
  const lines: string[] = [];
  const previous = setLogSink((line) => void lines.push(line));
  try {
    await assert.rejects(d.detect(good!), (err: Error) => err instanceof ModelError && /input 100×100/.test(err.message));
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await assert.rejects(d.detect(good!), /input 100×100/);
    assert.ok(performance.now() - t0 < 500, `20 frames in the pause took ${(performance.now() - t0).toFixed(0)} ms: no thread started for them`);
    assert.equal(lines.filter((l) => /cannot start again/.test(l)).length, 1, lines.join('\n'));
  } finally {
    setLogSink(previous);
  }
});

test("the thread's log lines come out of this thread's logger, at its level; detect() after close() is an error", async () => {
  const lines: string[] = [];
  const previous = setLogSink((line) => void lines.push(line));
  try {
    setLogLevel('debug');
    const d = await createDaemonDetector(SETTINGS, {}, 2);
    assert.ok(d instanceof ThreadedFaceDetector, 'two cores: a thread of its own');
    assert.ok(lines.some((l) => /DEBUG \[detector\] ssd 260 int8 started in its own thread \(ONNX Runtime native\)$/.test(l)), lines.join('\n'));
    setLogLevel('info');
    lines.length = 0;
    await d.close();
    await d.close();
    await assert.rejects(d.detect((await frames())[0]!), /closed/);
    const one = await createDaemonDetector(SETTINGS, {}, 1);
    closing.push(one);
    assert.ok(!(one instanceof ThreadedFaceDetector), 'auto, one core: on this thread');
    const off = await createDaemonDetector({ ...SETTINGS, thread: 'off' }, {}, 4);
    closing.push(off);
    assert.ok(!(off instanceof ThreadedFaceDetector), 'off: on this thread');
    const on = await createDaemonDetector({ ...SETTINGS, thread: 'on' }, {}, 1);
    closing.push(on);
    assert.ok(on instanceof ThreadedFaceDetector, 'on: its own thread, even on one core');
    assert.deepEqual(lines, [], 'nothing below info once the level is info');
  } finally {
    setLogLevel('info');
    setLogSink(previous);
  }
});

test('detector.thread auto: its own thread with two cores or more on the native backend; on wasm (a second runtime copy) the main thread', () => {
  assert.equal(detectorGetsThread('auto', 2, 'native'), true);
  assert.equal(detectorGetsThread('auto', 1, 'native'), false);
  assert.equal(detectorGetsThread('auto', 4, 'wasm'), false);
  assert.equal(detectorGetsThread('on', 1, 'wasm'), true);
  assert.equal(detectorGetsThread('off', 4, 'native'), false);
});
