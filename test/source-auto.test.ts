/** camera.source auto finds a camera or waits for one (state retrying, no frames); only `demo` plays the demo clip. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { setLogSink } from '../src/core/log.js';
import type { FrameSource, SourceState } from '../src/core/seams.js';
import { createFrameSource, findCameraDevice, searchCamera } from '../src/source/create-frame-source.js';
import { loadConfig } from '../src/config/load.js';
import type { MaskwatchConfig } from '../src/config/schema.js';

let dir: string;
const logLines: string[] = [];
let previousSink: ReturnType<typeof setLogSink>;

function cameraConfig(overrides: Partial<MaskwatchConfig['camera']>): MaskwatchConfig['camera'] {
  return { ...loadConfig({ env: {} }).config.camera, width: 160, height: 120, fps: 10, retryInitialMs: 20, retryMaxMs: 80, ...overrides };
}

/** A frame within ms, or null. */
async function frameWithin(source: FrameSource, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const none = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  const got = await Promise.race([source.nextFrame(), none]);
  clearTimeout(timer);
  return got;
}

/** Resolves when the source reaches the state (or fails after ms). */
function reaches(source: FrameSource, state: SourceState, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ${state} within ${ms} ms (${source.state})`)), ms);
    source.onStateChange((s) => {
      if (s !== state) return;
      clearTimeout(timer);
      resolve();
    });
  });
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-auto-'));
  previousSink = setLogSink((line) => logLines.push(line));
});
after(() => {
  setLogSink(previousSink);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('auto on this machine (no /dev/video*): retrying, what it looked for, no frames, never the demo', async (t) => {
  if (fs.readdirSync('/dev').some((n) => /^video\d+$/.test(n))) return t.skip('this machine has a /dev/video* device');
  const source = createFrameSource({ camera: cameraConfig({ source: 'auto' }), stateDir: dir }, systemClock);
  t.after(() => source.stop());
  const states: Array<[SourceState, string | undefined]> = [];
  source.onStateChange((s, d) => states.push([s, d]));
  logLines.length = 0;
  await source.start();
  assert.equal(source.state, 'retrying');
  const detail = states.find(([s]) => s === 'retrying')?.[1] ?? '';
  assert.match(detail, /^no camera found: looked for a V4L2 capture device in \/dev\/video\* \(none\) and a CSI camera receiver \(unicam, rp1-cfe\) for rpicam-vid \/ libcamera-vid; looking again with back-off up to 80 ms \(camera\.source demo plays the demo clip\)$/);
  assert.match(source.description, /^auto \(no camera found/);
  assert.equal(await frameWithin(source, 600), null, 'no frame without a camera');
  assert.equal(source.stats().received, 0);
  assert.deepEqual(states.map(([s]) => s), ['retrying'], 'looking again does not repeat the state');
  // The state change is the daemon's one log line (camera retrying: …); the source adds none of its own.
  assert.deepEqual(logLines.filter((l) => / WARN /.test(l)), []);
  assert.ok(!fs.existsSync(path.join(dir, 'demo')), 'the demo clip was not built');
  const waiting = source.nextFrame();
  await source.stop();
  assert.equal(await waiting, null);
  assert.equal(source.state, 'stopped');
});

test('auto looks again with back-off and streams from a camera that appears; its description is the device path', async (t) => {
  const dev = path.join(dir, 'dev');
  const sys = path.join(dir, 'v4l');
  fs.mkdirSync(dev);
  // a fake camera device: ffmpeg given any v4l2 arguments plays a test pattern instead
  const fakeFfmpeg = path.join(dir, 'fake-ffmpeg');
  fs.writeFileSync(fakeFfmpeg, '#!/bin/sh\nexec ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=160x120:rate=10 -c:v mjpeg -f mjpeg -\n', { mode: 0o755 });
  const source = createFrameSource({ camera: cameraConfig({ source: 'auto', ffmpegPath: fakeFfmpeg }), stateDir: dir }, systemClock, { devDir: dev, sysDir: sys });
  t.after(() => source.stop());
  const streaming = reaches(source, 'streaming', 10_000);
  await source.start();
  assert.equal(source.state, 'retrying');
  assert.equal(await frameWithin(source, 200), null);
  fs.writeFileSync(path.join(dev, 'video3'), '');
  fs.mkdirSync(path.join(sys, 'video3'), { recursive: true });
  fs.writeFileSync(path.join(sys, 'video3', 'name'), 'USB Camera\n');
  await streaming;
  assert.ok(await frameWithin(source, 5000), 'a frame from the camera that appeared');
  assert.equal(source.description, path.join(dev, 'video3'));
});

test('a USB camera metadata node (index 1) is not taken for the capture node', () => {
  const dev = path.join(dir, 'dev-uvc');
  const sys = path.join(dir, 'v4l-uvc');
  fs.mkdirSync(dev);
  for (const [n, index] of [['video0', '1'], ['video1', '0']]) {
    fs.writeFileSync(path.join(dev, n), '');
    fs.mkdirSync(path.join(sys, n), { recursive: true });
    fs.writeFileSync(path.join(sys, n, 'name'), 'HD Webcam\n');
    fs.writeFileSync(path.join(sys, n, 'index'), `${index}\n`);
  }
  assert.equal(findCameraDevice(dev, sys), path.join(dev, 'video1'));
  fs.rmSync(path.join(dev, 'video1'));
  const search = searchCamera(cameraConfig({}), dev, sys);
  assert.equal(search.source, null);
  assert.match(search.lookedFor, /video0 HD Webcam \(node 1\): no capture camera/);
});

test('demo plays the demo clip, and says so', async (t) => {
  const source = createFrameSource({ camera: cameraConfig({ source: 'demo' }), stateDir: dir }, systemClock);
  t.after(() => source.stop());
  await source.start();
  assert.equal(source.description, 'demo');
  assert.ok(await frameWithin(source, 5000), 'a demo frame');
  assert.equal(source.state, 'streaming');
});
