/**
 * The pipeline on its own: a fake camera (this machine has none) feeding the real decoder, SSD detector, classifier,
 * tracker and door state. One frame in each stage: frame N is classified and tracked while N+1 is detected, and N+2 is
 * taken and decoded meanwhile; each frame is finished once, in seq order; a corrupt frame loses only itself; stop()
 * returns with a frame taken ahead. With the detector in its own thread, the next frame reaches it before the main
 * thread crops and classifies the current one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../src/core/bus.js';
import { systemClock } from '../src/core/clock.js';
import type { DaemonEvents } from '../src/core/daemon-events.js';
import type { FaceDetector } from '../src/core/seams.js';
import type { Frame } from '../src/core/types.js';
import { loadConfig } from '../src/config/load.js';
import { Pipeline } from '../src/daemon/pipeline.js';
import { DoorState } from '../src/decision/door-state.js';
import { IouTracker } from '../src/decision/tracker.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { ThreadedFaceDetector } from '../src/vision/threaded-detector.js';
import { FakeCamera } from './helpers/fake-camera.js';
import { waitFor } from './helpers/mosquitto.js';
import { onePersonClip } from './helpers/person-clip.js';

test('a frame is finished while the next is detected and the one after is taken; each frame is finished once, in seq order; a corrupt one loses only itself', { timeout: 60_000 }, async () => {
  const { config } = loadConfig({ env: {} });
  const frames = (await onePersonClip('mask')).faceFrames;
  assert.equal(frames.length, 10, 'one second of a masked face at 10 frames/s');
  const corruptAt = 5;

  const camera = new FakeCamera(systemClock);
  const real = await createFaceDetector(config.detector);
  const detecting: number[] = [];
  const taken: Array<{ seq: number; duringDetectOf: number | null }> = [];
  let inDetect: number | null = null;
  let pushed = 0;
  const push = () => {
    if (pushed >= frames.length) return;
    if (pushed === corruptAt) {
      // The corrupt frame never reaches detect(), so the good one after it comes with it.
      camera.push(Buffer.from('not a jpeg at all'));
      pushed++;
    }
    camera.push(frames[pushed]!);
    pushed++;
  };
  // The real detector, watched: each detect() puts the next frame in the camera, as a camera faster than the pipeline does.
  const detector: FaceDetector = {
    inputSize: real.inputSize,
    async detect(frame: Frame) {
      detecting.push(frame.seq);
      inDetect = frame.seq;
      push();
      // Let the pipeline's side of the event loop run, as the native detector's own work would.
      await new Promise((r) => setTimeout(r, 20));
      try {
        return await real.detect(frame);
      } finally {
        inDetect = null;
      }
    },
    close: () => real.close(),
  };
  const nextFrame = camera.nextFrame.bind(camera);
  camera.nextFrame = async () => {
    const f = await nextFrame();
    if (f) taken.push({ seq: f.seq, duringDetectOf: inDetect });
    return f;
  };

  const bus = new EventBus<DaemonEvents>();
  const processed: Array<{ seq: number; faces: number; duringDetectOf: number | null }> = [];
  bus.on('frame.processed', 'test', (f) => void processed.push({ seq: f.seq, faces: f.faces, duringDetectOf: inDetect }));
  const clock = systemClock;
  const door = new DoorState(clock, config.signals.holdMs, (state) => bus.emit('state.changed', state));
  const classifier = await createMaskClassifier({ modelDir: config.classifier.modelDir, precision: 'float' });
  const pipeline = new Pipeline({ source: camera, detector, classifier, tracker: new IouTracker(config.tracker), door, bus, clock });
  await camera.start();
  pipeline.start();
  try {
    push();
    await waitFor('every good frame finished', () => processed.length >= frames.length - 1, 30_000);
    assert.deepEqual(processed.map((p) => p.seq), [1, 2, 3, 4, 5, 7, 8, 9, 10], 'each frame once, in seq order; frame 6 (corrupt) only skipped');
    assert.deepEqual(detecting, [1, 2, 3, 4, 5, 7, 8, 9, 10], 'the corrupt frame never reached the detector');
    assert.ok(processed.every((p) => p.faces === 1), `one face in every good frame: ${processed.map((p) => p.faces).join(' ')}`);
    const ahead = taken.filter((t) => t.seq > 1 && t.duringDetectOf === t.seq - 1);
    assert.ok(ahead.length >= 8, `frames 2–10 taken while the frame before was detected: ${JSON.stringify(taken)}`);
    const overlapped = processed.filter((p, i) => p.duringDetectOf !== null && p.duringDetectOf === processed[i + 1]?.seq);
    assert.ok(overlapped.length >= 7, `frames finished while the next was detected: ${JSON.stringify(processed)}`);
    // One more frame is taken ahead and waits: stop() must not wait for a frame that never comes.
    await waitFor('the pipeline waits for the next frame', () => taken.length === frames.length, 5_000);
  } finally {
    await camera.stop();
    await pipeline.stop();
    await classifier.close();
    await detector.close();
    door.stop();
  }
});

test("with the detector in its own thread, the next frame is handed to it before this one's crop and classifier take the main thread; on the main thread, after", { timeout: 90_000 }, async () => {
  const { config } = loadConfig({ env: {} });
  const frames = (await onePersonClip('mask')).faceFrames;
  const classifier = await createMaskClassifier({ modelDir: config.classifier.modelDir, precision: 'float' });
  const threaded = new ThreadedFaceDetector({ ...config.detector, precision: 'int8' });
  await threaded.start();
  const here = await createFaceDetector({ ...config.detector, precision: 'int8' });
  try {
    for (const real of [threaded, here]) {
      const calls: string[] = [];
      const camera = new FakeCamera(systemClock);
      let pushed = 0;
      const push = () => void (pushed < frames.length && camera.push(frames[pushed++]!));
      // The real detector and classifier, watched: each detect() puts the next frame in the camera. The pipeline does
      // not wait for a frame still decoding, so each detection takes 20 ms more: the next frame is decoded by its end.
      const detector: FaceDetector = {
        inputSize: real.inputSize,
        ownThread: real.ownThread,
        async detect(frame: Frame) {
          calls.push(`detect ${frame.seq}`);
          push();
          await new Promise((r) => setTimeout(r, 20));
          return real.detect(frame);
        },
        close: async () => undefined,
      };
      const watched = Object.create(classifier) as typeof classifier;
      watched.classifyFaces = (frame, boxes) => {
        calls.push(`classify ${(frame as Frame).seq}`);
        return classifier.classifyFaces(frame, boxes);
      };
      const bus = new EventBus<DaemonEvents>();
      let processed = 0;
      bus.on('frame.processed', 'test', () => void processed++);
      const door = new DoorState(systemClock, config.signals.holdMs, (state) => bus.emit('state.changed', state));
      const pipeline = new Pipeline({ source: camera, detector, classifier: watched, tracker: new IouTracker(config.tracker), door, bus, clock: systemClock });
      await camera.start();
      pipeline.start();
      push();
      await waitFor('every frame finished', () => processed >= frames.length, 30_000);
      await camera.stop();
      await pipeline.stop();
      door.stop();
      const at = (call: string) => calls.indexOf(call);
      for (let seq = 1; seq < frames.length; seq++) {
        const handedFirst = at(`detect ${seq + 1}`) < at(`classify ${seq}`);
        assert.equal(handedFirst, real === threaded, `${real === threaded ? 'own thread' : 'main thread'}, frame ${seq}: ${calls.join(', ')}`);
      }
    }
  } finally {
    await classifier.close();
    await threaded.close();
    await here.close();
  }
});
