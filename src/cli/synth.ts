import type { Command } from 'commander';

interface SynthFlags {
  from?: string[];
  vocRoot?: string[];
  out: string;
  perFace: string;
  vocPerFace?: string;
  incorrectShare: string;
  seed: string;
  margin: string;
  minVocSide: string;
  limit?: string;
  contactSheet?: string;
  facemeshTfjs?: string;
  progress: boolean;
}

function num(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${flag}: "${value}" is not a number in ${min}..${max}`);
  return n;
}

export function register(program: Command): void {
  program
    .command('synth')
    .description('Draw synthetic masks (worn correctly and incorrectly) on unmasked faces, placed by FaceMesh landmarks, for training')
    .option('--from <dir...>', 'folders of unmasked face pictures (each picture taken as one face)')
    .option('--voc-root <root...>', 'Pascal VOC roots (annotations/ + images/): their without_mask boxes are used')
    .requiredOption('--out <dir>', 'output: OUT/mask/*.jpg, OUT/mask_incorrect/*.jpg and OUT/manifest.json')
    .option('--per-face <n>', 'crops per face (a fraction adds one more with that probability)', '1')
    .option('--voc-per-face <n>', 'crops per VOC box face (default: --per-face)')
    .option('--incorrect-share <fraction>', 'share of crops with the mask worn incorrectly', '0.7')
    .option('--seed <n>', 'seed: the same seed and inputs give the same crops', '1')
    .option('--margin <fraction>', 'margin around the face box of each crop (as the trainer and daemon crop)', '0.15')
    .option('--min-voc-side <px>', 'smallest VOC face box used (shorter side)', '48')
    .option('--limit <n>', 'use only the first N faces (for a quick look)')
    .option('--contact-sheet <png>', 'also write a grid of samples labelled by variant and colour')
    .option('--facemesh-tfjs <dir>', 'run FaceMesh from a TF.js graph model folder (facemesh.json + .bin) instead of models/facemesh/facemesh.onnx')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', '\nExample: maskwatch synth --from ../shared/datasets/unmasked-faces --voc-root ../shared/datasets/kaggle-face-mask --out .cache/synth --per-face 1.3')
    .action(async (flags: SynthFlags) => {
      const { runSynth } = await import('../workflows/synth/run.js');
      if (!flags.from?.length && !flags.vocRoot?.length) throw new Error('synth: give --from and/or --voc-root');
      const code = await runSynth({
        from: flags.from ?? [],
        vocRoots: flags.vocRoot ?? [],
        out: flags.out,
        perFace: num('per-face', flags.perFace, 0, 50),
        vocPerFace: flags.vocPerFace === undefined ? undefined : num('voc-per-face', flags.vocPerFace, 0, 50),
        incorrectShare: num('incorrect-share', flags.incorrectShare, 0, 1),
        seed: Math.trunc(num('seed', flags.seed, 0, 2 ** 32 - 1)),
        margin: num('margin', flags.margin, 0, 1),
        minVocSide: num('min-voc-side', flags.minVocSide, 1, 10000),
        limit: flags.limit === undefined ? undefined : Math.trunc(num('limit', flags.limit, 1, 1e9)),
        contactSheet: flags.contactSheet,
        facemeshTfjs: flags.facemeshTfjs,
        progress: flags.progress,
      });
      process.exitCode = code;
    });
}
