import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { MaskwatchConfig } from '../config/schema.js';
import type { FrameSource } from '../core/seams.js';
import { ClipFrameSource, loadImageFolder, loadMjpegFile } from './clip-source.js';
import { ensureDemoClip } from './demo-clip.js';
import { gstreamerArgs } from './gstreamer-args.js';
import { ProcessFrameSource, type SpawnSpec } from './process-source.js';

type CameraConfig = MaskwatchConfig['camera'];

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

function videoNodes(devDir: string, sysDir: string): Array<{ device: string; label: string }> {
  let names: string[];
  try {
    names = fs.readdirSync(devDir).filter((n) => /^video\d+$/.test(n));
  } catch {
    return [];
  }
  names.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  return names.map((n) => {
    let label = '';
    try {
      label = fs.readFileSync(path.join(sysDir, n, 'name'), 'utf8').trim();
    } catch {
      /* no sysfs entry: take it as a camera */
    }
    return { device: path.join(devDir, n), label };
  });
}

/** The first /dev/video* that looks like a camera, or null. */
export function findCameraDevice(devDir = '/dev', sysDir = '/sys/class/video4linux'): string | null {
  return videoNodes(devDir, sysDir).find((n) => !NOT_A_CAMERA.test(n.label))?.device ?? null;
}

function onPath(command: string): boolean {
  const dirs = command.includes('/') ? [''] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.some((d) => {
    try {
      fs.accessSync(d ? path.join(d, command) : command, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What `auto` picks: a V4L2 camera, else a CSI camera through libcamera, else the demo clip. */
export function autoSource(cam: CameraConfig, devDir = '/dev', sysDir = '/sys/class/video4linux'): string {
  const device = findCameraDevice(devDir, sysDir);
  if (device) return `v4l2:${device}`;
  const csi = videoNodes(devDir, sysDir).some((n) => CSI_RECEIVER.test(n.label));
  if (csi && libcameraSpecs(cam).some((s) => onPath(s.command))) return 'libcamera';
  return 'demo';
}

/** The frame source camera.source names. Throws one clear line for a bad source. */
export function createFrameSource(config: { camera: CameraConfig; stateDir: string }, clock: Clock): FrameSource {
  const cam = config.camera;
  const retry = { retryInitialMs: cam.retryInitialMs, retryMaxMs: cam.retryMaxMs, stallMs: cam.stallMs };
  const source = cam.source;
  if (source === 'auto') {
    return createFrameSource({ ...config, camera: { ...cam, source: autoSource(cam) } }, clock);
  }
  if (source === 'demo') {
    return new ClipFrameSource(
      {
        description: 'demo clip',
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
    return new ProcessFrameSource({ description: `v4l2 ${device}`, specs: v4l2Specs(cam, device), ...retry }, clock);
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
      return new ClipFrameSource({ description: `images ${target}`, load: () => loadImageFolder(target), fps: cam.fps, loop: cam.loop }, clock);
    }
    if (/\.mjpe?g$/i.test(target)) {
      return new ClipFrameSource({ description: `file ${target}`, load: () => loadMjpegFile(target), fps: cam.fps, loop: cam.loop }, clock);
    }
    return new ProcessFrameSource({ description: `file ${target}`, specs: videoFileSpecs(cam, target), ...retry, endsOnCleanExit: !cam.loop }, clock);
  }
  throw new Error(`camera.source ${source}: unknown source (auto, demo, libcamera, v4l2:/dev/videoN, gstreamer:<pipeline>, file:<path>)`);
}
