import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { systemClock } from '../src/core/clock.js';
import { setLogSink } from '../src/core/log.js';
import type { SourceState } from '../src/core/seams.js';
import { ProcessFrameSource } from '../src/source/process-source.js';
import { createFrameSource, videoFileSpecs } from '../src/source/create-frame-source.js';
import { schema } from '../src/config/schema.js';
import convict from 'convict';
import type { MaskwatchConfig } from '../src/config/schema.js';

let dir: string;
let video: string;
const logLines: string[] = [];
let previousSink: ReturnType<typeof setLogSink>;

function cameraConfig(overrides: Partial<MaskwatchConfig['camera']>): MaskwatchConfig['camera'] {
  const base = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {} }).getProperties().camera;
  return { ...base, width: 160, height: 120, fps: 20, retryInitialMs: 100, retryMaxMs: 400, stallMs: 3000, ...overrides };
}

const waitFor = async (what: string, cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-source-'));
  video = path.join(dir, 'clip.mp4');
  // 1 s of a test pattern, MPEG-4 in MP4: a real video file for the file source
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=20', '-t', '1', '-c:v', 'mpeg4', video]);
  previousSink = setLogSink((line) => logLines.push(line));
});

after(() => {
  setLogSink(previousSink);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a non-looping file source streams every frame at the capture size, then ends', async () => {
  const source = createFrameSource({ camera: cameraConfig({ source: `file:${video}`, loop: false }), stateDir: dir }, systemClock);
  const states: SourceState[] = [];
  source.onStateChange((s) => states.push(s));
  assert.equal(source.state, 'starting');
  await source.start();
  const frames = [];
  for (;;) {
    const f = await source.nextFrame();
    if (!f) break;
    frames.push(f);
  }
  assert.equal(source.state, 'ended');
  assert.deepEqual(states, ['streaming', 'ended']);
  const st = source.stats();
  assert.equal(frames.length + st.dropped, 20, 'every frame of the 1 s clip arrives, taken or counted as dropped');
  assert.ok(frames.length >= 10, `consumer kept up: ${frames.length} frames`);
  for (let i = 1; i < frames.length; i++) assert.ok(frames[i].seq > frames[i - 1].seq);
  const meta = await sharp(frames[3].jpeg).metadata();
  assert.equal(meta.width, 160);
  assert.equal(meta.height, 120);
  assert.equal(await source.nextFrame(), null);
  await source.stop();
});

test('the newest frame wins: a slow consumer gets the latest frame and drops are counted', async () => {
  const source = createFrameSource({ camera: cameraConfig({ source: `file:${video}`, loop: true }), stateDir: dir }, systemClock);
  await source.start();
  const first = await source.nextFrame();
  assert.ok(first);
  await new Promise((r) => setTimeout(r, 400)); // ~8 frames arrive meanwhile
  const later = await source.nextFrame();
  assert.ok(later);
  const st = source.stats();
  assert.ok(st.dropped >= 3, `dropped ${st.dropped}`);
  assert.equal(later.seq, st.received, 'the frame handed out is the newest one');
  assert.ok(later.seq - first.seq >= 4);
  await source.stop();
  assert.equal(source.state, 'stopped');
  assert.equal(await source.nextFrame(), null);
});

test('a killed capture process: state retrying with the reason and retry plan, no log line of its own (the daemon logs state changes), then streaming again', async () => {
  const source = new ProcessFrameSource(
    { description: 'test file', specs: videoFileSpecs(cameraConfig({ loop: true }), video), retryInitialMs: 100, retryMaxMs: 400, stallMs: 3000 },
    systemClock,
  );
  const states: Array<[SourceState, string | undefined]> = [];
  source.onStateChange((s, d) => states.push([s, d]));
  await source.start();
  assert.ok(await source.nextFrame());
  const pid = source.pid!;
  logLines.length = 0;
  process.kill(pid, 'SIGKILL');
  await waitFor('retrying', () => source.state === 'retrying');
  const retry = states.find(([s]) => s === 'retrying');
  assert.match(retry![1] ?? '', /^ffmpeg was killed by SIGKILL; retrying in 100 ms$/);
  await waitFor('streaming again', () => source.state === 'streaming');
  assert.ok(await source.nextFrame());
  assert.notEqual(source.pid, pid);
  assert.equal(source.stats().restarts, 1);
  assert.deepEqual(states.slice(-2).map(([s]) => s), ['retrying', 'streaming']);
  assert.deepEqual(logLines, [], 'a second line for the same change would make the daemon\'s line a pair');
  await source.stop();
});

test('a missing binary: retrying with a growing back-off, stop() ends it', async () => {
  const source = new ProcessFrameSource(
    { description: 'nocam', specs: [{ command: path.join(dir, 'no-such-ffmpeg'), args: [] }], retryInitialMs: 50, retryMaxMs: 200, stallMs: 3000 },
    systemClock,
  );
  const details: string[] = [];
  source.onStateChange((s, d) => s === 'retrying' && details.push(d ?? ''));
  await source.start();
  await waitFor('three restarts', () => source.stats().restarts >= 3);
  assert.equal(source.state, 'retrying');
  const delays = details.filter((d) => /no-such-ffmpeg: not found/.test(d)).map((d) => Number(/retrying in (\d+) ms/.exec(d)![1]));
  assert.deepEqual(delays.slice(0, 4), [50, 100, 200, 200]);
  const waiting = source.nextFrame();
  await source.stop();
  assert.equal(await waiting, null);
});

test('a stalled capture process is killed and a new one launched', async () => {
  // `sleep` writes nothing: it stalls from the start (allowed twice stallMs for the first frame)
  const source = new ProcessFrameSource({ description: 'stall', specs: [{ command: 'sleep', args: ['30'] }], retryInitialMs: 50, retryMaxMs: 50, stallMs: 150 }, systemClock);
  const details: string[] = [];
  source.onStateChange((s, d) => s === 'retrying' && details.push(d ?? ''));
  await source.start();
  const pid = source.pid!;
  await waitFor('retrying', () => source.state === 'retrying');
  assert.ok(details.some((d) => /^no frame for \d+ s; retrying in 50 ms$/.test(d)), details.join('\n'));
  await waitFor('old process gone', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  // …and a new one really started in its place.
  await waitFor('relaunched', () => source.stats().restarts >= 1 && source.pid !== undefined && source.pid !== pid);
  await source.stop();
});

test('a v4l2 camera that cannot give MJPEG falls back to encoding', async () => {
  // a fake "ffmpeg" that fails for -input_format mjpeg and streams otherwise: the second spec is tried at once
  const fake = path.join(dir, 'fake-ffmpeg');
  fs.writeFileSync(fake, `#!/bin/sh\ncase "$*" in *"-input_format mjpeg"*) echo "unsupported pixel format" >&2; exit 1;; esac\nexec ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i ${video} -c:v mjpeg -f mjpeg -\n`, { mode: 0o755 });
  const source = createFrameSource({ camera: cameraConfig({ source: 'v4l2:/dev/video9', ffmpegPath: fake }), stateDir: dir }, systemClock);
  const details: string[] = [];
  source.onStateChange((s, d) => s === 'retrying' && details.push(d ?? ''));
  await source.start();
  assert.ok(await source.nextFrame());
  assert.equal(source.state, 'streaming');
  assert.ok(details.some((d) => /unsupported pixel format; retrying with .*fake-ffmpeg in 0 ms/.test(d)), details.join('\n'));
  await source.stop();
});
