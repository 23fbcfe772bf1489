import { createLogger } from '../../core/log.js';
import { createProgressBar } from '../progress.js';
import { writeContactSheet } from './contact-sheet.js';
import { DEFAULT_SYNTH, synthesize } from './generate.js';
import type { Landmarker } from './landmarker.js';
import { folderFaces, vocUnmaskedFaces, type SourceFace } from './sources.js';
import { TfjsFaceMeshLandmarker } from './tfjs-landmarker.js';
import { OnnxFaceMeshLandmarker } from './onnx-landmarker.js';

const log = createLogger('synth');

export interface RunSynthOptions {
  from: string[];
  vocRoots: string[];
  out: string;
  perFace: number;
  vocPerFace?: number;
  incorrectShare: number;
  seed: number;
  margin: number;
  minVocSide: number;
  limit?: number;
  contactSheet?: string;
  facemeshTfjs?: string;
  progress: boolean;
}

async function openLandmarker(tfjsDir: string | undefined): Promise<Landmarker> {
  if (tfjsDir) {
    return new TfjsFaceMeshLandmarker(tfjsDir);
  }
  return new OnnxFaceMeshLandmarker();
}

/** The `maskwatch synth` command: returns the exit code (0 when anything was produced). */
export async function runSynth(opts: RunSynthOptions): Promise<number> {
  const started = Date.now();
  let faces: SourceFace[] = [];
  for (const dir of opts.from) faces.push(...folderFaces(dir));
  const early: { source: string; reason: string }[] = [];
  for (const root of opts.vocRoots) {
    const scan = vocUnmaskedFaces(root, opts.minVocSide);
    faces.push(...scan.faces);
    for (const b of scan.broken) log.warn(`skipped ${b.source}: ${b.reason}`);
    early.push(...scan.broken);
    log.info(`${root}: ${scan.faces.length} without_mask boxes used, ${scan.tooSmall} smaller than ${opts.minVocSide} px left out`);
  }
  if (opts.limit !== undefined) faces = faces.slice(0, opts.limit);
  if (faces.length === 0) throw new Error('synth: no input pictures found');

  const landmarker = await openLandmarker(opts.facemeshTfjs);
  await landmarker.start();
  const bar = opts.progress && process.stderr.isTTY ? createProgressBar('synth', '[{bar}] {value}/{total} faces | {crops} crops | {skipped} skipped | eta {eta_formatted}') : null;
  bar?.start(faces.length, 0, { crops: 0, skipped: 0 });
  const warnings: string[] = [];
  try {
    const manifest = await synthesize(
      faces,
      landmarker,
      { ...DEFAULT_SYNTH, outDir: opts.out, perFace: opts.perFace, vocPerFace: opts.vocPerFace, incorrectShare: opts.incorrectShare, seed: opts.seed, margin: opts.margin },
      (done, _total, c) => bar?.update(done, { crops: c.mask + c.mask_incorrect, skipped: c.skipped }),
      (line) => (bar ? warnings.push(line) : log.warn(line)),
      early,
    );
    bar?.stop();
    for (const w of warnings) log.warn(w);
    const c = manifest.counts;
    log.info(
      `${opts.out}: ${c.mask_incorrect} mask_incorrect + ${c.mask} mask crops from ${c.faces} faces; ${c.skipped} skipped; ${c.leftOut} left out (mask off the picture's edge); ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    if (opts.contactSheet) {
      await writeContactSheet(opts.out, manifest, opts.contactSheet, opts.seed);
      log.info(`contact sheet: ${opts.contactSheet}`);
    }
    return c.mask + c.mask_incorrect > 0 ? 0 : 1;
  } finally {
    bar?.stop();
    await landmarker.stop();
  }
}
