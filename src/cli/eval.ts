import type { Command } from 'commander';

interface EvalFlags {
  model: string;
  data?: string[];
  split: string;
  json?: string;
  png?: string;
  minFace: string;
  precision: string;
  cacheDir: string;
  progress?: boolean;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description("Evaluate a model folder's ONNX classifier: per-class precision/recall/F1, macro-F1, confusion matrix (all faces and faces ≥ --min-face px)")
    .option('--model <dir>', 'model folder', 'models/maskwatch-default')
    .option('--data <root...>', 'evaluate every face of these data roots instead of the model\'s held-out split (same formats as train)')
    .option('--split <name>', "which split of the model's own data: train, validation or test", 'test')
    .option('--json <file>', 'write the metrics as JSON')
    .option('--png <file>', 'draw the confusion matrix and per-class bars as PNG')
    .option('--min-face <px>', 'face size (smaller side, px) for the restricted metrics', '32')
    .option('--precision <p>', 'float or int8 classifier file', 'float')
    .option('--cache-dir <dir>', 'cache folder for photo probes', '.cache/features')
    .option('--no-progress', 'no progress bar')
    .action(async (flags: EvalFlags) => {
      const minFace = Number(flags.minFace);
      if (!Number.isFinite(minFace) || minFace < 0) throw new Error(`--min-face: "${flags.minFace}" is not a size in px`);
      if (flags.precision !== 'float' && flags.precision !== 'int8') throw new Error(`--precision: float or int8, got ${flags.precision}`);
      const { runEvaluation } = await import('../workflows/eval/eval-run.js');
      const { formatMetrics } = await import('../workflows/eval/metrics.js');
      const report = await runEvaluation({
        model: flags.model,
        data: flags.data,
        split: flags.split as 'test',
        minFace,
        precision: flags.precision,
        json: flags.json,
        png: flags.png,
        cacheDir: flags.cacheDir,
        progress: flags.progress !== false,
      });
      const where = report.split === 'all' ? `all faces of ${report.data.join(', ')}` : `${report.split} split`;
      process.stdout.write(`${report.model} (${report.precision}), ${where}\n`);
      process.stdout.write(formatMetrics('all faces', report.result.all) + '\n');
      process.stdout.write(formatMetrics(`faces ≥ ${minFace} px`, report.result.large) + '\n');
    });
}
