import { findExecutable } from '../core/executables.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { MaskwatchConfig } from '../config/schema.js';
import { createLogger, errorMessage } from '../core/log.js';
import type { FrameSource, SourceStats } from '../core/seams.js';
import { ClipFrameSource, loadImageFolder, loadMjpegFile } from './clip-source.js';
import { ensureDemoClip } from './demo-clip.js';
import { FrameSourceBase } from './frame-source-base.js';
import { gstreamerArgs } from './gstreamer-args.js';
import { ProcessFrameSource, type SpawnSpec } from './process-source.js';

type CameraConfig = MaskwatchConfig['camera'];

const log = createLogger('camera');

/** ffmpeg arguments for a V4L2 camera: MJPEG passed through untouched, else (raw cameras) encoded. */
export function v4l2Specs(cam: CameraConfig, device: string): SpawnSpec[] {
  const input = ['-hide_banner', '-loglevel', 'error', '-f', 'v4l2', '-video_size', `${cam.width}x${cam.height}`, '-framerate', String(cam.fps)];
  return [
    { command: cam.ffmpegPath, args: [...input.slice(0, 5), '-input_format', 'mjpeg', ...input.slice(5), '-i', device, '-c:v', 'copy', '-f', 'mjpeg', '-'] },
    { command: cam.ffmpegPath, args: [...input, '-i', device, '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mjpeg', '-'] },
  ];
}

/** rpicam-vid, else the older libcamera-vid name (same options). */
export function libcameraSpecs(cam: CameraConfig): SpawnSpec[] {
  const args = ['-t', '0', '-n', '--codec', 'mjpeg', '--width', String(cam.width), '--height', String(cam.height), '--framerate', String(cam.fps), '-o', '-'];
  const specs = [{ command: cam.rpicamPath, args }];
  if (path.basename(cam.rpicamPath) === 'rpicam-vid') specs.push({ command: path.join(path.dirname(cam.rpicamPath), 'libcamera-vid').replace(/^\.\//, ''), args });
  return specs;
}

/** ffmpeg playing a video file in real time, scaled to the capture size, as MJPEG. */
export function videoFileSpecs(cam: CameraConfig, file: string): SpawnSpec[] {
  const loop = cam.loop ? ['-stream_loop', '-1'] : [];
  return [
    {
      command: cam.ffmpegPath,
      args: ['-hide_banner', '-loglevel', 'error', '-re', ...loop, '-i', file, '-vf', `scale=${cam.width}:${cam.height}`, '-an', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mjpeg', '-'],
    },
  ];
}

/** Device nodes that are not cameras (Pi ISP/codec nodes, Jetson encoders). */
const NOT_A_CAMERA = /pispbe|rpi-hevc|bcm2835-codec|bcm2835-isp|rp1-cfe|unicam|hantro|nvhost/i;

/** CSI camera receivers (Pi 5, older Pis): their nodes are driven through libcamera, not plain V4L2. */
const CSI_RECEIVER = /rp1-cfe|unicam/i;

interface VideoNode {
  device: string;
  label: string;
  /** The node's index under its device: a USB camera's capture node is 0, its metadata node 1. */
  index: number;
}

function videoNodes(devDir: string, sysDir: string): VideoNode[] {
  let names: string[];
  try {
    names = fs.readdirSync(devDir).filter((n) => /^video\d+$/.test(n));
  } catch {
    return [];
  }
  names.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const read = (n: string, file: string) => {
    try {
      return fs.readFileSync(path.join(sysDir, n, file), 'utf8').trim();
    } catch {
      return ''; // no sysfs entry: take it as a camera's capture node
    }
  };
  return names.map((n) => ({ device: path.join(devDir, n), label: read(n, 'name'), index: Number(read(n, 'index')) || 0 }));
}

const isCaptureCamera = (n: VideoNode) => !NOT_A_CAMERA.test(n.label) && n.index === 0;

/** The first /dev/video* that looks like a camera's capture node, or null. */
export function findCameraDevice(devDir = '/dev', sysDir = '/sys/class/video4linux'): string | null {
  return videoNodes(devDir, sysDir).find(isCaptureCamera)?.device ?? null;
}


export interface CameraSearch {
  /** The camera.source `auto` stands for now, or null: no camera here. */
  source: string | null;
  /** What was looked for and what was seen, for the log and the camera state. */
  lookedFor: string;
}

/** What `auto` picks: a V4L2 capture device, else a CSI camera through libcamera; never the demo clip. */
export function searchCamera(cam: CameraConfig, devDir = '/dev', sysDir = '/sys/class/video4linux'): CameraSearch {
  const nodes = videoNodes(devDir, sysDir);
  const device = nodes.find(isCaptureCamera)?.device;
  if (device) return { source: `v4l2:${device}`, lookedFor: `a V4L2 capture device in ${devDir}/video*` };
  const seen = nodes.length ? nodes.map((n) => `${n.device}${n.label ? ` ${n.label}` : ''}${n.index ? ` (node ${n.index})` : ''}`).join(', ') + ': no capture camera' : 'none';
  const v4l2 = `a V4L2 capture device in ${devDir}/video* (${seen})`;
  const csi = nodes.find((n) => CSI_RECEIVER.test(n.label));
  const tools = libcameraSpecs(cam).map((s) => s.command);
  if (!csi) return { source: null, lookedFor: `${v4l2} and a CSI camera receiver (unicam, rp1-cfe) for ${tools.join(' / ')}` };
  if (tools.some((t) => findExecutable(t) !== null)) return { source: 'libcamera', lookedFor: `a CSI camera (${csi.label}) through ${tools.join(' / ')}` };
  return { source: null, lookedFor: `${v4l2}; a CSI camera (${csi.label}) is there but ${tools.join(' and ')} not found` };
}

/** The camera.source `auto` stands for now, or null. */
export function autoSource(cam: CameraConfig, devDir = '/dev', sysDir = '/sys/class/video4linux'): string | null {
  return searchCamera(cam, devDir, sysDir).source;
}

/**
 * camera.source `auto`: the first camera found. With none it stays in state `retrying` (the detail says
 * what it looked for), looks again with back-off and yields no frames; it never falls back to the demo.
 */
class AutoFrameSource extends FrameSourceBase {
  private inner: FrameSource | null = null;
  private timer: TimerHandle | null = null;
  private waitMs: number;
  private stopping = false;
  private lastMiss = '';

  constructor(
    private readonly opts: { search: () => CameraSearch; open: (source: string) => FrameSource; retryInitialMs: number; retryMaxMs: number },
    clock: Clock,
  ) {
    super(clock);
    this.waitMs = opts.retryInitialMs;
  }

  get description(): string {
    return this.inner?.description ?? 'auto (no camera found yet)';
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.setState('starting');
    await this.look();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const inner = this.inner;
    if (inner) {
      try {
        await inner.stop();
      } catch (err) {
        log.warn(`${inner.description}: stopping: ${errorMessage(err)}`);
      }
    }
    this.setState('stopped');
  }

  override stats(): SourceStats {
    const own = super.stats();
    const inner = this.inner?.stats();
    return { received: own.received, dropped: own.dropped + (inner?.dropped ?? 0), restarts: own.restarts + (inner?.restarts ?? 0) };
  }

  private async look(): Promise<void> {
    if (this.stopping) return;
    const found = this.opts.search();
    if (!found.source) return this.missed(`no camera found: looked for ${found.lookedFor}`);
    const inner = this.opts.open(found.source);
    log.info(`auto: using ${inner.description}`);
    this.inner = inner;
    inner.onStateChange((state, detail) => {
      if (this.inner === inner && !this.stopping && state !== 'stopped') this.setState(state, detail);
    });
    try {
      await inner.start();
    } catch (err) {
      this.inner = null;
      return this.missed(`${inner.description}: ${errorMessage(err)}`);
    }
    void this.relay(inner);
  }

  /** State retrying once per new reason (the daemon logs it), and a look again after the back-off. */
  private missed(why: string): void {
    if (why !== this.lastMiss) {
      this.lastMiss = why;
      this.setState('retrying', `${why}; looking again with back-off up to ${this.opts.retryMaxMs} ms (camera.source demo plays the demo clip)`);
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.look();
    }, this.waitMs);
    this.waitMs = Math.min(this.opts.retryMaxMs, this.waitMs * 2);
  }

  private async relay(inner: FrameSource): Promise<void> {
    for (;;) {
      const frame = await inner.nextFrame();
      if (!frame || this.stopping) return;
      this.deliver(frame.jpeg);
    }
  }
}

/**
 * The frame source camera.source names; its description says what it reads (a device path, `demo`, a file).
 * Throws one clear line for a bad source. `cameraDirs` points `auto` at other /dev and sysfs folders (tests).
 */
export function createFrameSource(
  config: { camera: CameraConfig; stateDir: string },
  clock: Clock,
  cameraDirs: { devDir?: string; sysDir?: string } = {},
): FrameSource {
  const cam = config.camera;
  const retry = { retryInitialMs: cam.retryInitialMs, retryMaxMs: cam.retryMaxMs, stallMs: cam.stallMs };
  const source = cam.source;
  if (source === 'auto') {
    return new AutoFrameSource(
      {
        search: () => searchCamera(cam, cameraDirs.devDir, cameraDirs.sysDir),
        open: (found) => createFrameSource({ ...config, camera: { ...cam, source: found } }, clock),
        retryInitialMs: cam.retryInitialMs,
        retryMaxMs: cam.retryMaxMs,
      },
      clock,
    );
  }
  if (source === 'demo') {
    return new ClipFrameSource(
      {
        description: 'demo',
        load: async () => loadMjpegFile((await ensureDemoClip(config.stateDir)).clipPath),
        fps: 10,
        loop: cam.loop,
      },
      clock,
    );
  }
  if (source === 'libcamera') return new ProcessFrameSource({ description: 'libcamera', specs: libcameraSpecs(cam), ...retry }, clock);
  if (source.startsWith('v4l2:')) {
    const device = source.slice(5);
    return new ProcessFrameSource({ description: device, specs: v4l2Specs(cam, device), ...retry }, clock);
  }
  if (source.startsWith('gstreamer:')) {
    const args = gstreamerArgs(source.slice('gstreamer:'.length));
    return new ProcessFrameSource({ description: 'gstreamer', specs: [{ command: cam.gstPath, args }], ...retry }, clock);
  }
  if (source.startsWith('file:')) {
    const target = source.slice(5);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(target);
    } catch {
      throw new Error(`camera.source ${source}: no such file or folder`);
    }
    if (stat.isDirectory()) {
      return new ClipFrameSource({ description: source, load: () => loadImageFolder(target), fps: cam.fps, loop: cam.loop }, clock);
    }
    if (/\.mjpe?g$/i.test(target)) {
      return new ClipFrameSource({ description: source, load: () => loadMjpegFile(target), fps: cam.fps, loop: cam.loop }, clock);
    }
    return new ProcessFrameSource({ description: source, specs: videoFileSpecs(cam, target), ...retry, endsOnCleanExit: !cam.loop }, clock);
  }
  throw new Error(`camera.source ${source}: unknown source (auto, demo, libcamera, v4l2:/dev/videoN, gstreamer:<pipeline>, file:<path>)`);
}
