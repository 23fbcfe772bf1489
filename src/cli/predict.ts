import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from '../config/load.js';
import type { MaskwatchConfig } from '../config/schema.js';
import { errorMessage } from '../core/log.js';
import { REPO_ROOT } from '../core/paths.js';
import type { Box, Face, Verdict } from '../core/types.js';
import type { RgbImage } from '../core/image.js';
import type { FaceDetector } from '../core/seams.js';
import { fusedVerdict } from '../decision/fuse-scores.js';
import { createFaceDetector } from '../vision/create-face-detector.js';
import type { OutputNames } from '../vision/annotate.js';
import type { OnnxMaskClassifier } from '../vision/mask-classifier.js';

interface PredictOptions {
  config: string;
  json?: boolean;
  annotate?: string;
  model?: string;
  precision?: string;
  detector?: string;
  minFace?: string;
}

export function register(program: Command): void {
  program
    .command('predict')
    .description('Find faces in images or videos and classify each: mask, no_mask or mask_incorrect')
    .argument('<inputs...>', 'image files (JPEG, PNG, WebP) or video files')
    .option('-c, --config <file>', 'config file (defaults for model, detector and thresholds)', DEFAULT_CONFIG_FILE)
    .option('--json', 'one JSON line per image (per frame for videos)')
    .option(
      '--annotate <dir>',
      'write each input with coloured boxes and labels into this folder: a picture under its own name and format (a.png → a.png; without an image extension as PNG, .png added), a video as <name>.mp4; an input whose output name is already taken in this run (photos/a.jpg after other/a.jpg) gets -2, -3, … before the extension, in the order given; the name written is in the JSON line (annotated) and the table',
    )
    .option('--model <dir>', 'classifier.modelDir')
    .option('--precision <p>', 'classifier.precision: auto, int8 or float')
    .option('--detector <model>', 'detector.model: ssd (masked and bare faces; the default), front or back (BlazeFace)')
    .option('--min-face <px>', 'detector.minFaceSize: ignore faces narrower than this')
    .action(async (inputs: string[], opts: PredictOptions) => {
      exitQuietlyOnClosedStdout();
      const overrides: Record<string, unknown> = {};
      if (opts.model) overrides['classifier.modelDir'] = opts.model;
      if (opts.precision) overrides['classifier.precision'] = opts.precision;
      if (opts.detector) overrides['detector.model'] = opts.detector;
      if (opts.minFace !== undefined) overrides['detector.minFaceSize'] = opts.minFace;
      const overwritten = opts.annotate ? inputs.find((input) => sameFolder(path.dirname(input), opts.annotate!)) : undefined;
      if (overwritten !== undefined) return fail(`--annotate ${opts.annotate} is the folder ${overwritten} is in: its annotated copy would replace it; give another folder`, 1);
      const config = loadConfigOrExit(opts.config, overrides);
      const classifier = await openClassifierOrExit(config);
      let detector: FaceDetector;
      try {
        detector = await createFaceDetector(config.detector, { stateDir: config.stateDir });
      } catch (err) {
        await classifier.close();
        return fail(errorMessage(err), 2);
      }
      let failed = 0;
      const { OutputNames } = await import('../vision/annotate.js');
      const names = new OutputNames();
      for (const input of inputs) {
        try {
          await predictOne(input, { detector, classifier, fusionWeight: config.classifier.detectorScoreWeight, opts, names });
        } catch (err) {
          failed++;
          process.stderr.write(`maskwatch predict: ${errorMessage(err)}\n`);
        }
      }
      await detector.close();
      await classifier.close();
      if (failed) process.exitCode = 1;
    });
}

interface Parts {
  detector: FaceDetector;
  classifier: OnnxMaskClassifier;
  /** classifier.detectorScoreWeight: labels are decided as the daemon decides them. */
  fusionWeight: number;
  opts: PredictOptions;
  /** The annotated outputs' names, unique in this run. */
  names: OutputNames;
}

export interface PredictedFace {
  box: [number, number, number, number];
  detection: number;
  label: Verdict['label'];
  score: number;
  probs: Verdict['probs'];
}

async function predictOne(input: string, parts: Parts): Promise<void> {
  const { isVideoFile } = await import('../vision/video-io.js');
  if (isVideoFile(input)) return predictVideo(input, parts);
  const { readImageFile } = await import('../vision/image-decode.js');
  let image;
  try {
    image = await readImageFile(input);
  } catch (err) {
    // A video without a video extension: sharp does not know the format, ffprobe does.
    if (/not an image/.test(errorMessage(err)) && hasVideoStream(input)) return predictVideo(input, parts);
    throw err;
  }
  const faces = await detectAndClassify(image, parts);
  let annotated: string | undefined;
  if (parts.opts.annotate) {
    const { annotateImage, formatOfExtension } = await import('../vision/annotate.js');
    const { writeFileAtomic } = await import('../core/files.js');
    // The input's extension and format; one that names no writable format (or none) becomes PNG, added to the name.
    const ext = path.extname(input);
    const format = formatOfExtension(ext);
    const name = format ? parts.names.claim(path.basename(input, ext), ext) : parts.names.claim(path.basename(input), '.png');
    annotated = path.join(parts.opts.annotate, name);
    writeFileAtomic(annotated, await annotateImage(image, faces.map(toAnnotated), format ?? 'png'));
  }
  printResult(input, undefined, faces, parts.opts.json, annotated);
}

function sameFolder(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

function hasVideoStream(file: string): boolean {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_type:format=format_name', '-of', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  const info = JSON.parse(r.stdout) as { streams?: Array<{ codec_type?: string }>; format?: { format_name?: string } };
  // ffprobe "plays" any file named .jpg as a one-image video (image2 demuxer); only real containers count.
  return info.streams?.[0]?.codec_type === 'video' && !/image2|_pipe/.test(info.format?.format_name ?? 'image2');
}

async function predictVideo(input: string, parts: Parts): Promise<void> {
  if (!fs.existsSync(input)) throw new Error(`${input}: no such file`);
  const { probeVideo, readVideoFrames, VideoWriter } = await import('../vision/video-io.js');
  const info = probeVideo(input);
  const { annotateToJpeg } = await import('../vision/annotate.js');
  const annotated = parts.opts.annotate ? path.join(parts.opts.annotate, parts.names.claim(path.basename(input, path.extname(input)), '.mp4')) : undefined;
  const writer = annotated ? new VideoWriter(annotated, info.fps) : undefined;
  writer?.start();
  try {
    const { frames, decodeError } = await readVideoFrames(input, info, async (frame, index) => {
      const faces = await detectAndClassify(frame, parts);
      if (writer) await writer.write(await annotateToJpeg(frame, faces.map(toAnnotated)));
      if (parts.opts.json || faces.length) printResult(input, index, faces, parts.opts.json, annotated);
    });
    await writer?.finish();
    if (!parts.opts.json) process.stdout.write(`${input}: ${frames} frames${annotated ? ` (annotated: ${annotated})` : ''}\n`);
    // The frames read are reported, but the file was not read whole: an error for this input.
    if (decodeError) throw new Error(`${input}: damaged or cut short: ffmpeg decoded ${frames} frames with errors (${decodeError})`);
  } catch (err) {
    writer?.abort();
    throw err;
  }
}

export async function detectAndClassify(image: RgbImage, parts: Pick<Parts, 'detector' | 'classifier' | 'fusionWeight'>): Promise<PredictedFace[]> {
  const frame = { ...image, seq: 0, capturedAt: 0 };
  const faces: Face[] = await parts.detector.detect(frame);
  const verdicts = (await parts.classifier.classifyFaces(frame, faces.map((f) => f.box))).map((v, i) => fusedVerdict(v, faces[i]!.detectorScores, parts.fusionWeight));
  return faces.map((f, i) => ({
    box: [round1(f.box.x), round1(f.box.y), round1(f.box.w), round1(f.box.h)],
    detection: round4(f.score),
    label: verdicts[i]!.label,
    score: round4(verdicts[i]!.score),
    probs: { mask: round4(verdicts[i]!.probs.mask), no_mask: round4(verdicts[i]!.probs.no_mask), mask_incorrect: round4(verdicts[i]!.probs.mask_incorrect) },
  }));
}

function printResult(file: string, frame: number | undefined, faces: PredictedFace[], json?: boolean, annotated?: string): void {
  if (json) {
    process.stdout.write(JSON.stringify({ file, ...(frame === undefined ? {} : { frame }), faces, ...(annotated ? { annotated } : {}) }) + '\n');
    return;
  }
  const where = frame === undefined ? file : `${file} frame ${frame}`;
  process.stdout.write(`${where}: ${faces.length} face${faces.length === 1 ? '' : 's'}${annotated && frame === undefined ? ` (annotated: ${annotated})` : ''}\n`);
  if (!faces.length) return;
  process.stdout.write(`  ${'box x,y,w,h'.padEnd(26)}${'detect'.padStart(7)}  ${'label'.padEnd(15)}${'score'.padStart(6)}   mask / no_mask / incorrect\n`);
  for (const f of faces) {
    const box = f.box.map((v) => Math.round(v)).join(',');
    const probs = [f.probs.mask, f.probs.no_mask, f.probs.mask_incorrect].map((p) => p.toFixed(2)).join(' / ');
    process.stdout.write(`  ${box.padEnd(26)}${f.detection.toFixed(2).padStart(7)}  ${f.label.padEnd(15)}${f.score.toFixed(2).padStart(6)}   ${probs}\n`);
  }
}

function toAnnotated(f: PredictedFace): { box: Box; label: PredictedFace['label']; score: number } {
  return { box: { x: f.box[0], y: f.box[1], w: f.box[2], h: f.box[3] }, label: f.label, score: f.score };
}

export function loadConfigOrExit(file: string, overrides: Record<string, unknown>): MaskwatchConfig {
  try {
    return loadConfig({ file, fileRequired: file !== DEFAULT_CONFIG_FILE, overrides }).config;
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }
}

/** Opens the configured classifier (model dir relative to the working folder, else to the checkout); one error line and exit 2 on failure. */
export async function openClassifierOrExit(config: MaskwatchConfig): Promise<OnnxMaskClassifier> {
  const { createMaskClassifier } = await import('../vision/mask-classifier.js');
  const dir = config.classifier.modelDir;
  const modelDir = path.isAbsolute(dir) || fs.existsSync(dir) ? dir : fs.existsSync(path.join(REPO_ROOT, dir)) ? path.join(REPO_ROOT, dir) : dir;
  try {
    return await createMaskClassifier({ modelDir, precision: config.classifier.precision, stateDir: config.stateDir });
  } catch (err) {
    return fail(errorMessage(err), 2);
  }
}

/** `maskwatch predict --json … | head` ends quietly instead of with an EPIPE stack trace. */
export function exitQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

function fail(message: string, code: number): never {
  process.stderr.write(`maskwatch: ${message}\n`);
  process.exit(code);
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
