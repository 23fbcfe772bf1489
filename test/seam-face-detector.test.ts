/**
 * One suite for the FaceDetector seam, run against every detector `detector.model` offers (the SSD in float and int8,
 * BlazeFace front and back) and against the daemon's way of running one (in a thread of its own), on real photos: faces in image pixels inside the frame, best first, the size and count
 * limits applied, nothing on an empty frame, a known face found, close() safe to repeat.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { iou } from '../src/core/geometry.js';
import type { FaceDetector } from '../src/core/seams.js';
import type { Frame } from '../src/core/types.js';
import { loadConfig } from '../src/config/load.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import type { DetectorSettings } from '../src/vision/start-face-detector.js';
import { readImageFile } from '../src/vision/image-decode.js';
import { ThreadedFaceDetector } from '../src/vision/threaded-detector.js';
import { ROOT } from './helpers/cli.js';

const FACES = path.join(ROOT, 'test/fixtures/faces');
const BASE: DetectorSettings = { ...loadConfig({ env: {} }).config.detector, model: 'ssd', precision: 'float', inputSize: 260, scoreThreshold: null, iouThreshold: null, minFaceSize: 20, maxFaces: 10 };
type Make = (settings: DetectorSettings) => Promise<FaceDetector>;
const inThisThread: Make = (settings) => createFaceDetector(settings);
const inItsOwnThread: Make = async (settings) => {
  const d = new ThreadedFaceDetector({ ...settings, precision: settings.precision === 'int8' ? 'int8' : 'float' });
  await d.start();
  return d;
};
const VARIANTS: Record<string, [Partial<DetectorSettings>, Make]> = {
  'AIZOO SSD, float': [{ model: 'ssd', precision: 'float' }, inThisThread],
  'AIZOO SSD, int8': [{ model: 'ssd', precision: 'int8' }, inThisThread],
  'BlazeFace front': [{ model: 'front' }, inThisThread],
  'BlazeFace back': [{ model: 'back' }, inThisThread],
  'AIZOO SSD, int8, in its own thread': [{ model: 'ssd', precision: 'int8' }, inItsOwnThread],
};
/** A 320×240 cut of sample1.jpg around one bare face at door distance (a quarter of the width): every detector finds it here. */
const CUT = { x: 54, y: 78, w: 320, h: 240 };
const CUT_FACE = { x: 174 - CUT.x, y: 150 - CUT.y, w: 79, h: 97 };

const open: FaceDetector[] = [];
after(async () => {
  for (const d of open) await d.close();
});

async function frame(name: string, cut?: typeof CUT): Promise<Frame> {
  const img = await readImageFile(path.join(FACES, name));
  if (!cut) return { ...img, seq: 0, capturedAt: 0 };
  const rgb = new Uint8Array(cut.w * cut.h * 3);
  for (let y = 0; y < cut.h; y++) rgb.set(img.rgb.subarray(((cut.y + y) * img.width + cut.x) * 3, ((cut.y + y) * img.width + cut.x + cut.w) * 3), y * cut.w * 3);
  return { width: cut.w, height: cut.h, rgb, seq: 0, capturedAt: 0 };
}

for (const [name, [over, make]] of Object.entries(VARIANTS)) {
  describe(`FaceDetector: ${name}`, () => {
    test('faces in image pixels inside the frame, best first; a known face is found', async () => {
      const d = await make({ ...BASE, ...over });
      open.push(d);
      const f = await frame('sample1.jpg', CUT);
      const faces = await d.detect(f);
      assert.ok(faces.length >= 1, `${faces.length} faces`);
      for (let i = 0; i < faces.length; i++) {
        const { box, score } = faces[i]!;
        assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.w <= f.width + 0.5 && box.y + box.h <= f.height + 0.5, 'inside the frame');
        assert.ok(score > 0 && score <= 1);
        if (i > 0) assert.ok(faces[i - 1]!.score >= score, 'best first');
      }
      assert.ok(faces.some((x) => iou(x.box, CUT_FACE) >= 0.4), `a face near ${JSON.stringify(CUT_FACE)}: ${JSON.stringify(faces.map((x) => x.box))}`);
    });

    test('minFaceSize and maxFaces are applied; an empty frame has no face', async () => {
      const f = await frame('sample5.jpg');
      const all = await (open[open.length - 1] ?? (await make({ ...BASE, ...over }))).detect(f);
      const limited = await make({ ...BASE, ...over, minFaceSize: 90, maxFaces: 2 });
      open.push(limited);
      const some = await limited.detect(f);
      assert.ok(some.length <= 2);
      assert.ok(some.every((x) => x.box.w >= 90));
      assert.ok(some.length <= all.filter((x) => x.box.w >= 90).length);
      const grey: Frame = { width: 640, height: 480, rgb: new Uint8Array(640 * 480 * 3).fill(128), seq: 0, capturedAt: 0 };
      assert.deepEqual(await limited.detect(grey), []);
      await limited.close();
      await limited.close();
    });
  });
}
