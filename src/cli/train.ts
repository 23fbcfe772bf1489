import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../core/paths.js';
import type { TrainOptions } from '../workflows/train/options.js';

interface TrainFlags {
  data?: string[];
  synthDir?: string;
  out?: string;
  base?: string;
  inputSize?: string;
  epochs?: string;
  seed?: string;
  margin?: string;
  augment?: string;
  fineTuneBlocks?: string;
  pool?: string;
  config?: string;
  cacheDir?: string;
  name?: string;
  quantize?: boolean;
  progress?: boolean;
  crossValidate?: string;
}

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${flag}: "${value}" is not a number`);
  return n;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('Train the mask classifier head on a frozen MobileNetV2 base and write a model folder (ONNX, TF.js, card, eval)')
    .option('--data <root...>', 'data roots: Pascal VOC (annotations/ + images/), class folders (mask/, no_mask/, mask_incorrect/), or a flat folder as ROOT=label')
    .option('--synth-dir <dir>', 'synthetic crops from `maskwatch synth` (DIR/manifest.json); training split only')
    .option('--out <dir>', 'model folder to write (replaced whole at the end)')
    .option('--base <dir>', 'TF.js layers MobileNetV2 base without top (any width)')
    .option('--input-size <px>', 'input size (multiple of 32)')
    .option('--epochs <n>', 'maximum epochs (early stopping on validation macro-F1)')
    .option('--seed <n>', 'seed for the split, shuffling and initialisation')
    .option('--margin <fraction>', 'margin around each face box when cropping (the daemon uses the same)')
    .option('--augment <n>', 'augmented copies per training crop')
    .option('--fine-tune-blocks <n>', 'also train the last N inverted-residual blocks + Conv_1 of the base (0..3; 0: frozen base)')
    .option('--pool <kind>', 'how the head pools the base\'s last feature map: global (one mean) or bands (three row bands: eyes, nose, mouth and chin)')
    .option('--cache-dir <dir>', 'feature cache folder')
    .option('--name <name>', 'model name in the card')
    .option('--no-quantize', 'do not write the int8 model')
    .option('--no-progress', 'no progress bars')
    .option('--cross-validate <folds>', 'instead of one model, judge the recipe: deal the non-test photos into this many folds, train one model per fold (OUT/fold-K-of-N) with that fold as validation, run each end to end on its fold as the daemon does, and report all folds pooled (OUT/cross-validation.json, .png); the test split stays untouched')
    .option('--config <file>', 'JSON file with the same options (camelCase: data, synthDir, out, base, inputSize, epochs, seed, margin, augment, ...); flags win')
    .addHelpText('after', '\nPaths in a config file are relative to the current folder (run from the project root).\nExample: maskwatch train --data ~/photos/voc ~/photos/crops --out models/my-shop\n(--data: Pascal VOC folders (annotations/*.xml + images/), class folders (mask/ no_mask/ mask_incorrect/), or a flat folder as DIR=no_mask)')
    .action(async (flags: TrainFlags) => {
      const { TRAIN_DEFAULTS, readTrainConfig, validateTrainOptions } = await import('../workflows/train/options.js');
      const fromFile = flags.config ? readTrainConfig(flags.config) : {};
      const fromFlags = {
        data: flags.data,
        synthDir: flags.synthDir,
        out: flags.out,
        base: flags.base,
        inputSize: num('input-size', flags.inputSize),
        epochs: num('epochs', flags.epochs),
        seed: num('seed', flags.seed),
        margin: num('margin', flags.margin),
        augment: num('augment', flags.augment),
        fineTuneBlocks: num('fine-tune-blocks', flags.fineTuneBlocks),
        pool: flags.pool as TrainOptions['pool'] | undefined,
        cacheDir: flags.cacheDir,
        name: flags.name,
        quantize: flags.quantize === false ? false : undefined,
        progress: flags.progress === false ? false : undefined,
      };
      const merged = { ...TRAIN_DEFAULTS, ...fromFile };
      for (const [k, v] of Object.entries(fromFlags)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
      if (!fromFile.name && !flags.name) merged.name = path.basename(path.resolve(merged.out));
      // The bundled base is found from any folder, as the models `run` loads are.
      if (merged.base === TRAIN_DEFAULTS.base && !fs.existsSync(merged.base)) merged.base = path.join(REPO_ROOT, TRAIN_DEFAULTS.base);
      const opts = validateTrainOptions(merged);
      await checkPathsFirst(opts);
      if (flags.crossValidate !== undefined) return void (await crossValidateCommand(opts, num('cross-validate', flags.crossValidate)!));
      const { runTraining } = await import('../workflows/train/trainer.js');
      const { formatMetrics } = await import('../workflows/eval/metrics.js');
      const result = await runTraining(opts);
      const t = result.model.test;
      process.stdout.write(`model ${opts.out} (${result.seconds.toFixed(0)} s)\n`);
      process.stdout.write(formatMetrics('test, all faces', t.all) + '\n');
      process.stdout.write(formatMetrics(`test, faces ≥ ${t.minFace} px`, t.large) + '\n');
    });
}

/** Paths checked before the detector pass and the features, so a typo fails in a second, not at the end of the run. */
async function checkPathsFirst(opts: TrainOptions): Promise<void> {
  const { folderProblem } = await import('../core/files.js');
  const { parseDataSpec } = await import('../workflows/data/datasets.js');
  const { describeBase } = await import('../workflows/train/base.js');
  const problems: string[] = [];
  for (const [flag, dir] of [['--out', opts.out], ['--cache-dir', opts.cacheDir]] as const) {
    const problem = folderProblem(dir);
    if (problem) problems.push(`${flag} ${problem}`);
  }
  for (const text of opts.data) {
    const root = parseDataSpec(text).path;
    if (!fs.existsSync(root)) problems.push(`--data ${root}: no such folder`);
  }
  if (opts.synthDir && !fs.existsSync(path.join(opts.synthDir, 'manifest.json'))) problems.push(`--synth-dir ${opts.synthDir}: no manifest.json in it (make it with maskwatch synth)`);
  if (!fs.existsSync(opts.base)) problems.push(`--base ${opts.base}: no such folder`);
  else {
    try {
      describeBase(opts.base);
    } catch (err) {
      problems.push(`--base ${opts.base}: ${(err as Error).message.replace(/^base \S+: /, '')}`);
    }
  }
  if (problems.length) throw new Error(problems.join('\n'));
}

/** `train --cross-validate N`: the pooled end-to-end report with the daemon's decision rule, and a line for each other. */
async function crossValidateCommand(opts: TrainOptions, folds: number): Promise<void> {
  const { loadConfig } = await import('../config/load.js');
  const { crossValidate } = await import('../workflows/eval/cross-validate.js');
  const { formatDoorReport } = await import('../workflows/eval/door-report.js');
  const { formatInterval } = await import('../workflows/eval/intervals.js');
  const { config } = loadConfig({ env: {} });
  const { fusionWeight: weight, confidence } = { fusionWeight: config.classifier.detectorScoreWeight, confidence: config.tracker.confidence };
  const rules = [
    { fusionWeight: weight, confidence },
    ...[0, 0.5, 1, 2].filter((w) => w !== weight).map((fusionWeight) => ({ fusionWeight, confidence })),
    ...[0, 0.4, 0.5, 0.7].filter((c) => c !== confidence).map((c) => ({ fusionWeight: weight, confidence: c })),
  ];
  const cv = await crossValidate({ train: opts, folds, detector: config.detector, stateDir: config.stateDir, rules, minFace: opts.minFace });
  process.stdout.write(formatDoorReport(cv.title, cv.pooled[0]!) + '\n');
  for (const r of cv.pooled.slice(1)) {
    const mi = r.door.perClass.mask_incorrect;
    process.stdout.write(`label fusion weight ${r.fusionWeight}, confidence ${r.confidence}: door macro-F1 ${r.door.macroF1.toFixed(3)} (${formatInterval(r.doorIntervals.macroF1)}), mask_incorrect ${mi.correct}/${mi.n}\n`);
  }
  for (const f of cv.folds) process.stdout.write(`fold ${f.fold}: ${f.photos} photos, door macro-F1 ${f.door.macroF1.toFixed(3)} on ${f.door.faces} faces (${f.model})\n`);
  process.stdout.write(`written: ${cv.json}, ${cv.png}, ${cv.mistakes} (the door faces without the right light)\n`);
}
