/**
 * Video files for `maskwatch predict`: frames are read through ONE ffmpeg process as raw RGB on stdout,
 * annotated frames are written by piping JPEGs into a second ffmpeg (temp file, renamed when complete).
 * Always argument arrays, never a shell.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeDirs } from '../core/files.js';
import type { RgbImage } from '../core/image.js';

const VIDEO_EXTENSIONS = new Set(['.mp4', '.m4v', '.mov', '.avi', '.mkv', '.webm', '.mpg', '.mpeg', '.wmv', '.flv', '.ts', '.mjpeg', '.mjpg', '.3gp']);

export class VideoInputError extends Error {}

export function isVideoFile(file: string): boolean {
  return VIDEO_EXTENSIONS.has(path.extname(file).toLowerCase());
}

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
}

/** Width, height (after ffmpeg's autorotation) and frame rate of a video's first video stream. */
export function probeVideo(file: string, ffprobe = 'ffprobe'): VideoInfo {
  const r = spawnSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,r_frame_rate:stream_side_data=rotation', '-of', 'json', file], { encoding: 'utf8' });
  if (r.error) throw new VideoInputError(`${file}: cannot run ${ffprobe} (${r.error.message})`);
  if (r.status !== 0) throw new VideoInputError(`${file}: not a readable video (${(r.stderr || '').trim().split('\n').pop() ?? 'ffprobe failed'})`);
  const parsed = JSON.parse(r.stdout) as { streams?: Array<{ width?: number; height?: number; r_frame_rate?: string; side_data_list?: Array<{ rotation?: number }> }> };
  const s = parsed.streams?.[0];
  if (!s?.width || !s.height) throw new VideoInputError(`${file}: has no video stream`);
  const rotation = Math.abs(s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0);
  const [num, den] = (s.r_frame_rate ?? '25/1').split('/').map(Number);
  const fps = num && den ? num / den : 25;
  return rotation === 90 || rotation === 270 ? { width: s.height, height: s.width, fps } : { width: s.width, height: s.height, fps };
}

export interface VideoRead {
  frames: number;
  /** ffmpeg's last complaint when it decoded with errors (a damaged or cut-off file; it still exits 0), else null. */
  decodeError: string | null;
}

/** Calls `onFrame` for every frame, in order, awaiting each (ffmpeg is paused by backpressure meanwhile). */
export async function readVideoFrames(file: string, info: VideoInfo, onFrame: (frame: RgbImage, index: number) => Promise<void>, ffmpeg = 'ffmpeg'): Promise<VideoRead> {
  const frameBytes = info.width * info.height * 3;
  const child = spawn(ffmpeg, ['-v', 'error', '-nostdin', '-i', file, '-an', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (err) => reject(new VideoInputError(`${file}: cannot run ${ffmpeg} (${err.message})`)));
    child.on('close', (code) => resolve(code));
  });
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= frameBytes) {
        const rgb = Buffer.from(pending.subarray(0, frameBytes));
        pending = pending.subarray(frameBytes);
        await onFrame({ width: info.width, height: info.height, rgb }, index++);
      }
    }
  } catch (err) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw err;
  }
  const code = await exited;
  if (code !== 0) throw new VideoInputError(`${file}: ffmpeg failed after ${index} frames (${stderr.trim().split('\n').pop() ?? `exit ${code}`})`);
  if (index === 0) throw new VideoInputError(`${file}: no frames decoded`);
  return { frames: index, decodeError: stderr.trim() ? stderr.trim().split('\n').pop()!.trim() : null };
}

let h264: boolean | undefined;
function hasLibx264(ffmpeg: string): boolean {
  h264 ??= /libx264/.test(spawnSync(ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '');
  return h264;
}

/** Encodes JPEG frames into a video file; the file appears only when finish() succeeds. */
export class VideoWriter {
  private child: ReturnType<typeof spawn> | undefined;
  private exited: Promise<number | null> | undefined;
  private stderr = '';
  private readonly tmp: string;

  constructor(
    private readonly file: string,
    private readonly fps: number,
    private readonly ffmpeg = 'ffmpeg',
  ) {
    this.tmp = path.join(path.dirname(file), `.${path.basename(file, path.extname(file))}.${process.pid}.tmp${path.extname(file) || '.mp4'}`);
  }

  start(): void {
    makeDirs(path.dirname(this.file));
    const codec = hasLibx264(this.ffmpeg) ? ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'] : ['-c:v', 'mpeg4', '-q:v', '4'];
    this.child = spawn(this.ffmpeg, ['-v', 'error', '-y', '-f', 'image2pipe', '-c:v', 'mjpeg', '-framerate', String(this.fps), '-i', 'pipe:0', ...codec, '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', this.tmp], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.child.stdin!.on('error', () => undefined); // reported through the exit code
    this.exited = new Promise((resolve) => {
      this.child!.on('error', (err) => {
        this.stderr += err.message;
        resolve(-1);
      });
      this.child!.on('close', (code) => resolve(code));
    });
  }

  async write(jpeg: Buffer): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin) throw new Error('VideoWriter: start() was not called');
    if (stdin.write(jpeg)) return;
    // ffmpeg that has died (a full or read-only disk) never drains its input: wait for whichever comes first.
    const died = await Promise.race([new Promise<false>((resolve) => stdin.once('drain', () => resolve(false))), this.exited!.then(() => true)]);
    if (died) {
      fs.rmSync(this.tmp, { force: true });
      throw new VideoInputError(`${this.file}: ffmpeg could not write the video (${this.lastError()})`);
    }
  }

  private lastError(): string {
    return this.stderr.trim().split('\n').pop() || 'it stopped';
  }

  async finish(): Promise<void> {
    this.child?.stdin?.end();
    const code = await this.exited;
    if (code !== 0) {
      fs.rmSync(this.tmp, { force: true });
      throw new VideoInputError(`${this.file}: ffmpeg could not write the video (${this.lastError()}, exit ${code})`);
    }
    fs.renameSync(this.tmp, this.file);
  }

  /** Stops without producing the file. */
  abort(): void {
    try {
      this.child?.kill('SIGKILL');
    } catch {
      /* gone */
    }
    fs.rmSync(this.tmp, { force: true });
  }
}
