import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE } from '../config/load.js';
import { errorMessage } from '../core/log.js';
import { exitQuietlyOnClosedStdout, loadConfigOrExit, openClassifierOrExit } from './predict.js';

interface ClassifyOptions {
  config: string;
  json?: boolean;
  model?: string;
  precision?: string;
}

export function register(program: Command): void {
  program
    .command('classify')
    .description('Classify face crops (each image is one face): mask, no_mask or mask_incorrect')
    .argument('<images...>', 'face crop images (JPEG, PNG, WebP)')
    .option('-c, --config <file>', 'config file (default model and precision)', DEFAULT_CONFIG_FILE)
    .option('--json', 'one JSON line per image')
    .option('--model <dir>', 'classifier.modelDir')
    .option('--precision <p>', 'classifier.precision: auto, int8 or float')
    .action(async (images: string[], opts: ClassifyOptions) => {
      exitQuietlyOnClosedStdout();
      const overrides: Record<string, unknown> = {};
      if (opts.model) overrides['classifier.modelDir'] = opts.model;
      if (opts.precision) overrides['classifier.precision'] = opts.precision;
      const config = loadConfigOrExit(opts.config, overrides);
      const classifier = await openClassifierOrExit(config);
      let failed = 0;
      for (const file of images) {
        try {
          const v = await classifier.classifyImage(file);
          const probs = { mask: round4(v.probs.mask), no_mask: round4(v.probs.no_mask), mask_incorrect: round4(v.probs.mask_incorrect) };
          if (opts.json) process.stdout.write(JSON.stringify({ file, label: v.label, score: round4(v.score), probs }) + '\n');
          else process.stdout.write(`${file}: ${v.label} ${v.score.toFixed(2)}  (mask ${probs.mask.toFixed(2)}, no_mask ${probs.no_mask.toFixed(2)}, mask_incorrect ${probs.mask_incorrect.toFixed(2)})\n`);
        } catch (err) {
          failed++;
          process.stderr.write(`maskwatch classify: ${errorMessage(err)}\n`);
        }
      }
      await classifier.close();
      if (failed) process.exitCode = 1;
    });
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
