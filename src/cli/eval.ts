import type { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from '../config/load.js';
import { errorMessage } from '../core/log.js';

interface EvalFlags {
  config: string;
  model?: string;
  precision?: string;
  detector?: string;
  detectorPrecision?: string;
  scoreThreshold?: string;
  fusionWeight?: string[];
  confidence?: string[];
  data?: string[];
  split: string;
  crops?: boolean;
  json?: string;
  png?: string;
  mistakes?: string;
  minFace: string;
  cacheDir: string;
  progress?: boolean;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description(
      'Evaluate a model folder as the daemon runs it: the configured face detector and the classifier on whole photos with hand-drawn boxes ' +
        '(detection recall, labels, end-to-end macro-F1 with missed faces counted wrong, per class and face-size band, with 95 % intervals at door distance); --crops: the classifier alone on face crops',
    )
    .option('-c, --config <file>', 'config file: the detector, thresholds and classifier the daemon would run', DEFAULT_CONFIG_FILE)
    .option('--model <dir>', 'model folder (default: classifier.modelDir, the shipped model)')
    .option('--precision <p>', 'classifier file: auto, int8 or float (default: classifier.precision, as the daemon)')
    .option('--detector <model>', 'detector.model: ssd, front or back')
    .option('--detector-precision <p>', 'detector.precision: auto, int8 or float')
    .option('--score-threshold <s>', 'detector.scoreThreshold (0..1)')
    .option('--fusion-weight <w...>', "classifier.detectorScoreWeight: weight(s) of the SSD's own mask / no-mask scores in the label; several to compare")
    .option('--confidence <c...>', 'tracker.confidence: the score a label needs before a person gets a light (below it: undecided, counted wrong); several to compare')
    .option('--data <root...>', "evaluate every photo (or crop) of these data roots instead of the model's held-out split")
    .option('--split <name>', "which split of the model's own data: train, validation or test", 'test')
    .option('--crops', 'evaluate the classifier alone on face crops cut from the hand-drawn boxes')
    .option('--json <file>', 'write the figures as JSON')
    .option('--png <file>', 'draw them as PNG')
    .option('--mistakes <file>', 'draw every door face the daemon gets wrong (not found, no light, or the wrong one) as a PNG of face pictures with their labels')
    .option('--min-face <px>', 'faces smaller than this (smaller side, px) are reported apart', '32')
    .option('--cache-dir <dir>', 'cache folder for photo probes', '.cache/features')
    .option('--no-progress', 'no progress bar')
    .action(async (flags: EvalFlags) => {
      const { outputFileProblem } = await import('../core/files.js');
      for (const [flag, file] of [['--json', flags.json], ['--png', flags.png], ['--mistakes', flags.mistakes]] as const) {
        // Checked before the run, which takes minutes: a bad output path fails first, not last.
        const problem = file ? outputFileProblem(file) : null;
        if (problem) fail(`${flag} ${problem}`);
      }
      const minFace = Number(flags.minFace);
      if (!Number.isFinite(minFace) || minFace < 0) fail(`--min-face: "${flags.minFace}" is not a size in px`);
      const overrides: Record<string, unknown> = {};
      if (flags.model) overrides['classifier.modelDir'] = flags.model;
      if (flags.precision) overrides['classifier.precision'] = flags.precision;
      if (flags.detector) overrides['detector.model'] = flags.detector;
      if (flags.detectorPrecision) overrides['detector.precision'] = flags.detectorPrecision;
      if (flags.scoreThreshold) overrides['detector.scoreThreshold'] = flags.scoreThreshold;
      if (flags.fusionWeight?.length === 1) overrides['classifier.detectorScoreWeight'] = flags.fusionWeight[0];
      if (flags.confidence?.length === 1) overrides['tracker.confidence'] = flags.confidence[0];
      let config;
      try {
        ({ config } = loadConfig({ file: flags.config, fileRequired: flags.config !== DEFAULT_CONFIG_FILE, overrides }));
      } catch (err) {
        if (err instanceof ConfigError) fail(err.message);
        throw err;
      }
      const common = { data: flags.data, cacheDir: flags.cacheDir, progress: flags.progress !== false, json: flags.json, png: flags.png, mistakes: flags.mistakes };
      try {
        const { resolveClassifierPrecision } = await import('../vision/mask-classifier.js');
        const { precision } = await resolveClassifierPrecision({ modelDir: config.classifier.modelDir, precision: config.classifier.precision, stateDir: config.stateDir });
        if (flags.crops) {
          if (flags.mistakes) fail('--mistakes draws the end-to-end evaluation\'s faces; it does not go with --crops');
          const { runEvaluation } = await import('../workflows/eval/eval-run.js');
          const { formatMetrics } = await import('../workflows/eval/metrics.js');
          const report = await runEvaluation({ ...common, model: config.classifier.modelDir, split: flags.split as 'test', minFace, precision });
          const where = report.split === 'all' ? `all faces of ${report.data.join(', ')}` : `${report.split} split`;
          process.stdout.write(`${report.model} (${report.precision}), face crops, ${where}\n`);
          process.stdout.write(formatMetrics('all faces', report.result.all) + '\n');
          process.stdout.write(formatMetrics(`faces ≥ ${minFace} px`, report.result.large) + '\n');
          return;
        }
        const weights = (flags.fusionWeight ?? [String(config.classifier.detectorScoreWeight)]).map(Number);
        if (weights.some((w) => !(w >= 0 && w <= 4))) fail(`--fusion-weight: weights from 0 to 4, got ${flags.fusionWeight?.join(' ')}`);
        const confidences = (flags.confidence ?? [String(config.tracker.confidence)]).map(Number);
        if (confidences.some((c) => !(c >= 0 && c <= 1))) fail(`--confidence: scores from 0 to 1, got ${flags.confidence?.join(' ')}`);
        const { decisionRules } = await import('../workflows/eval/door-eval.js');
        const { runDoorEvaluation } = await import('../workflows/eval/door-run.js');
        const { formatDoorReport } = await import('../workflows/eval/door-report.js');
        const result = await runDoorEvaluation({ ...common, modelDir: config.classifier.modelDir, precision, detector: config.detector, stateDir: config.stateDir, split: flags.split as 'test', minFace, rules: decisionRules(weights, confidences) });
        for (const report of result.reports) process.stdout.write(formatDoorReport(result.title, report) + '\n\n');
      } catch (err) {
        fail(errorMessage(err));
      }
    });
}

function fail(message: string): never {
  process.stderr.write(`maskwatch eval: ${message}\n`);
  process.exit(2);
}
