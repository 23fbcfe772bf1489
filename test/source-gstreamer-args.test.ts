import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gstreamerArgs, tokenizePipeline } from '../src/source/gstreamer-args.js';
import { ManualClock } from '../src/core/clock.js';
import { createFrameSource, libcameraSpecs, v4l2Specs } from '../src/source/create-frame-source.js';
import { schema, type MaskwatchConfig } from '../src/config/schema.js';
import convict from 'convict';

const camera = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {} }).getProperties().camera;

test('the tokenizer splits on whitespace and keeps quoted caps whole', () => {
  assert.deepEqual(tokenizePipeline(`v4l2src device=/dev/video0 ! "image/jpeg, width=640, height=480" ! jpegparse`), [
    'v4l2src',
    'device=/dev/video0',
    '!',
    'image/jpeg, width=640, height=480',
    '!',
    'jpegparse',
  ]);
  assert.deepEqual(tokenizePipeline(`a  b\tc\n d`), ['a', 'b', 'c', 'd']);
  assert.deepEqual(tokenizePipeline(`x name='a "b" c' y="q\\"r\\\\s" z=a\\ b`), ['x', 'name=a "b" c', 'y=q"r\\s', 'z=a b']);
  assert.deepEqual(tokenizePipeline(`caps=""`), ['caps=']);
  assert.throws(() => tokenizePipeline(`a "b`), /unterminated " quote/);
});

test('gst-launch arguments: quiet, ending in fdsink to stdout unless the user wrote one', () => {
  assert.deepEqual(gstreamerArgs('videotestsrc ! jpegenc'), ['-q', 'videotestsrc', '!', 'jpegenc', '!', 'fdsink', 'fd=1']);
  assert.deepEqual(gstreamerArgs('videotestsrc ! jpegenc ! fdsink fd=1'), ['-q', 'videotestsrc', '!', 'jpegenc', '!', 'fdsink', 'fd=1']);
  assert.throws(() => gstreamerArgs('   '), /empty/);
  assert.throws(() => gstreamerArgs('videotestsrc ! jpegenc !'), /must not start or end/);
});

test('camera command lines are argument arrays for v4l2 and libcamera', () => {
  const cam = { ...camera, width: 1280, height: 720, fps: 30 };
  const [copy, encode] = v4l2Specs(cam, '/dev/video2');
  assert.equal(copy.command, 'ffmpeg');
  assert.deepEqual(copy.args.slice(copy.args.indexOf('-f')), ['-f', 'v4l2', '-input_format', 'mjpeg', '-video_size', '1280x720', '-framerate', '30', '-i', '/dev/video2', '-c:v', 'copy', '-f', 'mjpeg', '-']);
  assert.ok(!encode.args.includes('-input_format'));
  assert.deepEqual(encode.args.slice(-7), ['-c:v', 'mjpeg', '-q:v', '5', '-f', 'mjpeg', '-']);
  const lib = libcameraSpecs(cam);
  assert.deepEqual(
    lib.map((s) => s.command),
    ['rpicam-vid', 'libcamera-vid'],
  );
  assert.deepEqual(lib[0].args, ['-t', '0', '-n', '--codec', 'mjpeg', '--width', '1280', '--height', '720', '--framerate', '30', '-o', '-']);
  const src = createFrameSource({ camera: { ...cam, source: 'gstreamer:videotestsrc ! jpegenc' }, stateDir: 'var' }, new ManualClock());
  assert.equal(src.description, 'gstreamer');
});
