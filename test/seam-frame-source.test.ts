/**
 * One suite for the FrameSource seam, run against every implementation: the in-memory clip player (folders, .mjpeg
 * files, the demo), the long-lived process source (a real ffmpeg), and the fake camera the daemon tests use.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { setLogSink } from '../src/core/log.js';
import type { EncodedFrame, FrameSource, SourceState } from '../src/core/seams.js';
import { ClipFrameSource } from '../src/source/clip-source.js';
import { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE } from '../src/source/demo-clip.js';
import { ProcessFrameSource } from '../src/source/process-source.js';
import { FakeCamera } from './helpers/fake-camera.js';

let dir: string;
let frames: Buffer[];
let clipFile: string;
let previousSink: ReturnType<typeof setLogSink>;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-source-seam-'));
  previousSink = setLogSink(() => undefined);
  const people = DEMO_PEOPLE.slice(0, 2).map((p) => ({ image: path.join(DEMO_ASSETS_DIR, p.file), label: p.label }));
  frames = (await buildClip(people, { width: 320, height: 240, fps: 10, faceSize: 120, showMs: 300, gapMs: 100 })).frames;
  clipFile = path.join(dir, 'clip.mjpeg');
  fs.writeFileSync(clipFile, Buffer.concat(frames));
});
after(() => {
  setLogSink(previousSink);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  source: FrameSource;
  /** Makes the source produce frames for a while (the fake camera needs the test to hand them over). */
  pump(ms: number): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const HARNESSES: Record<string, () => Harness> = {
  'clip player (in memory)': () => ({ source: new ClipFrameSource({ description: 'file:clip', load: async () => frames, fps: 50, loop: true }, systemClock), pump: sleep }),
  'process source (real ffmpeg, MJPEG on stdout)': () => ({
    source: new ProcessFrameSource(
      {
        description: 'file:clip.mjpeg',
        specs: [{ command: 'ffmpeg', args: ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-f', 'mjpeg', '-framerate', '50', '-i', clipFile, '-c:v', 'copy', '-f', 'mjpeg', '-'] }],
        retryInitialMs: 200,
        retryMaxMs: 1000,
        stallMs: 3000,
      },
      systemClock,
    ),
    pump: sleep,
  }),
  'fake camera': () => {
    const camera = new FakeCamera(systemClock);
    let i = 0;
    return {
      source: camera,
      pump: async (ms) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          camera.push(frames[i++ % frames.length]!);
          await sleep(20);
        }
      },
    };
  },
};

const isJpeg = (b: Buffer) => b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;

for (const [name, make] of Object.entries(HARNESSES)) {
  describe(`FrameSource: ${name}`, () => {
    test('streams whole JPEGs with rising seq and capture times; says so through its state', async () => {
      const { source, pump } = make();
      const states: SourceState[] = [];
      source.onStateChange((s) => states.push(s));
      await source.start();
      const got: EncodedFrame[] = [];
      const taking = (async () => {
        while (got.length < 5) got.push((await source.nextFrame())!);
      })();
      await Promise.race([Promise.all([taking, pump(3000)]), taking]);
      await taking;
      assert.ok(states.includes('streaming'), states.join(','));
      assert.equal(source.state, 'streaming');
      for (const f of got) assert.ok(isJpeg(f.jpeg), 'a whole JPEG');
      for (let i = 1; i < got.length; i++) {
        assert.ok(got[i]!.seq > got[i - 1]!.seq, 'seq rises');
        assert.ok(got[i]!.capturedAt >= got[i - 1]!.capturedAt, 'capture time rises');
      }
      await source.stop();
    });

    test('a slow consumer gets the newest frame; the ones replaced are counted as dropped', async () => {
      const { source, pump } = make();
      await source.start();
      await pump(600);
      const first = (await source.nextFrame())!;
      const s = source.stats();
      assert.ok(s.received >= 5, `received ${s.received}`);
      assert.ok(s.dropped >= s.received - 2, `dropped ${s.dropped} of ${s.received}: only the newest waits`);
      assert.ok(first.seq >= s.received - 1, 'the frame taken is the newest');
      await source.stop();
    });

    test('stop: state stopped, a waiting consumer and every later one get null', async () => {
      const { source } = make();
      const states: SourceState[] = [];
      source.onStateChange((s) => states.push(s));
      await source.start();
      // A consumer taking frames until the source says there are no more: stop must end it, also while it waits.
      const consumer = (async () => {
        while ((await source.nextFrame()) !== null);
      })();
      await sleep(200);
      await source.stop();
      assert.equal(await Promise.race([consumer.then(() => 'ended' as const), sleep(3000).then(() => 'hung' as const)]), 'ended');
      assert.equal(await source.nextFrame(), null);
      assert.equal(source.state, 'stopped');
      assert.equal(states.at(-1), 'stopped');
    });
  });
}
