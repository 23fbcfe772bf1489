import fs from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.js';
import { createLogger, errorMessage, listSome } from '../core/log.js';
import { FrameSourceBase } from './frame-source-base.js';
import { splitMjpeg } from './mjpeg-splitter.js';

const log = createLogger('camera');

export interface ClipSourceOptions {
  description: string;
  /** Loads the JPEGs to play (called once by start()). */
  load: () => Promise<Buffer[]>;
  fps: number;
  loop: boolean;
}

/** Plays JPEGs held in memory at a fixed rate; no child process. Folder, .mjpeg file and demo sources. */
export class ClipFrameSource extends FrameSourceBase {
  readonly description: string;
  private frames: Buffer[] = [];
  private index = 0;
  private timer: TimerHandle | null = null;

  constructor(private readonly opts: ClipSourceOptions, clock: Clock) {
    super(clock);
    this.description = opts.description;
  }

  async start(): Promise<void> {
    this.setState('starting');
    this.frames = await this.opts.load();
    if (this.frames.length === 0) throw new Error(`camera ${this.description}: no frames to play`);
    this.index = 0;
    const period = 1000 / Math.max(1, this.opts.fps);
    this.timer = this.clock.setInterval(() => this.tick(), period);
    this.tick();
  }

  async stop(): Promise<void> {
    try {
      if (this.timer) this.clock.clearInterval(this.timer);
    } catch {
      /* nothing to undo */
    }
    this.timer = null;
    this.setState('stopped');
  }

  private tick(): void {
    if (this.index >= this.frames.length) {
      if (!this.opts.loop) {
        if (this.timer) this.clock.clearInterval(this.timer);
        this.timer = null;
        this.setState('ended', 'end of input');
        return;
      }
      this.index = 0;
    }
    if (this.state !== 'streaming') this.setState('streaming');
    this.deliver(this.frames[this.index++]);
  }
}

const IMAGE_EXT = /\.(jpe?g|png|webp|bmp|tiff?)$/i;

/**
 * The images of a folder in name order (natural: 2 before 10), as JPEGs. Each is decoded once here, so an image that
 * cannot be read (damaged, cut short, not what its name says) is skipped with its name in one line, not played as a
 * frame the pipeline can only skip by number.
 */
export async function loadImageFolder(folder: string): Promise<Buffer[]> {
  let names: string[];
  try {
    names = fs.readdirSync(folder).filter((n) => IMAGE_EXT.test(n));
  } catch (err) {
    throw new Error(`camera file:${folder}: cannot read the folder: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  names.sort(new Intl.Collator('en', { numeric: true }).compare);
  if (names.length === 0) throw new Error(`camera file:${folder}: no images (.jpg, .png, .webp) in the folder`);
  const { default: sharp } = await import('sharp');
  const frames: Buffer[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    try {
      const data = fs.readFileSync(path.join(folder, name));
      if (/\.jpe?g$/i.test(name)) {
        await sharp(data).raw().toBuffer();
        frames.push(data);
      } else frames.push(await sharp(data).jpeg({ quality: 85 }).toBuffer());
    } catch (err) {
      skipped.push(`${name} (${errorMessage(err).split('\n')[0]})`);
    }
  }
  if (frames.length === 0) throw new Error(`camera file:${folder}: none of its ${names.length} images can be read: ${listSome(skipped)}`);
  if (skipped.length) log.warn(`camera file:${folder}: ${skipped.length} of ${names.length} images skipped, unreadable: ${listSome(skipped)}`);
  return frames;
}

/** The JPEGs of an .mjpeg file (concatenated JPEGs). */
export async function loadMjpegFile(file: string): Promise<Buffer[]> {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`camera file:${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const frames = splitMjpeg(data);
  if (frames.length === 0) throw new Error(`camera file:${file}: no JPEG frames in the file`);
  return frames;
}
