import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { MjpegParser, splitMjpeg } from '../src/source/mjpeg-splitter.js';

const N = 24;
/** A real MJPEG stream from ffmpeg: N frames of a test pattern. */
const stream = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=10`, '-frames:v', String(N), '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mjpeg', '-'], {
  maxBuffer: 64 << 20,
});

/** A tiny deterministic random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function feedInChunks(data: Buffer, seed: number, maxChunk: number, parser = new MjpegParser()): Buffer[] {
  const rand = rng(seed);
  const frames: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(rand() * maxChunk);
    parser.write(data.subarray(i, i + n), (f) => frames.push(f));
    i += n;
  }
  return frames;
}

async function assertDecodable(frames: Buffer[]): Promise<void> {
  for (const f of frames) {
    const { info } = await sharp(f).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 320);
    assert.equal(info.height, 240);
  }
}

test('a real ffmpeg MJPEG stream cut into random chunks gives exactly N decodable frames', async () => {
  for (const [seed, maxChunk] of [
    [1, 7],
    [2, 997],
    [3, 65536],
  ] as const) {
    const frames = feedInChunks(stream, seed, maxChunk);
    assert.equal(frames.length, N, `seed ${seed}, chunks ≤ ${maxChunk}`);
    assert.equal(Buffer.concat(frames).length, stream.length, 'every byte belongs to a frame');
  }
  await assertDecodable(feedInChunks(stream, 4, 300));
});

test('garbage between frames is skipped and counted', async () => {
  const whole = splitMjpeg(stream);
  const junk = Buffer.from([0xff, 0x00, 0x12, 0xff, 0xff, 0xd9, 0x55, 0xff]);
  const mixed = Buffer.concat(whole.flatMap((f) => [junk, f]));
  const parser = new MjpegParser();
  const frames = feedInChunks(mixed, 5, 513, parser);
  assert.equal(frames.length, N);
  assert.equal(parser.stats.garbageBytes, junk.length * N);
  assert.deepEqual(frames[7], whole[7]);
  await assertDecodable(frames.slice(0, 3));
});

test('a JPEG thumbnail inside an APP1 segment does not end the frame', async () => {
  const [outer] = splitMjpeg(stream);
  const thumb = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f00' } }).jpeg().toBuffer();
  const payload = Buffer.concat([Buffer.from('Exif\0\0'), thumb]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(payload.length + 2, 2);
  const withThumb = Buffer.concat([outer.subarray(0, 2), app1, payload, outer.subarray(2)]);
  const frames = feedInChunks(Buffer.concat([withThumb, withThumb]), 6, 40);
  assert.equal(frames.length, 2);
  assert.equal(frames[0].length, withThumb.length);
  const meta = await sharp(frames[0]).metadata();
  assert.equal(meta.width, 320);
});

test('a runaway frame past the limit is dropped and counted; the stream recovers', () => {
  const whole = splitMjpeg(stream);
  const runaway = Buffer.concat([whole[0].subarray(0, whole[0].length - 2), Buffer.alloc(50_000, 0x11)]); // never ends
  const parser = new MjpegParser(20_000);
  const frames = feedInChunks(Buffer.concat([whole[1], runaway, whole[2], whole[3]]), 7, 4096, parser);
  assert.equal(parser.stats.oversized, 1);
  assert.equal(frames.length, 3);
  assert.deepEqual(frames[1], whole[2]);
});

test('a frame cut short by a new SOI is counted as broken and the next frame is whole', () => {
  const whole = splitMjpeg(stream);
  const cut = whole[0].subarray(0, Math.floor(whole[0].length / 2));
  const parser = new MjpegParser();
  const frames = feedInChunks(Buffer.concat([cut, whole[1]]), 8, 100, parser);
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0], whole[1]);
  assert.equal(parser.stats.broken, 1);
});

