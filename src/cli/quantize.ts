import type { Command } from 'commander';

interface QuantizeFlags {
  method: string;
  percentile?: string;
  calibration?: string;
  data?: string;
  samples: string;
  check: string;
  weights: string;
  floatLayers?: string;
  cacheDir: string;
  progress: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('quantize')
    .description('Write an int8 copy of a model dir\'s classifier (classifier.int8.onnx), calibrated on face crops, and record it in model-card.json')
    .argument('<model-dir>', 'folder with model-card.json and classifier.onnx')
    .option('--method <m>', 'activation ranges: minmax or percentile', 'percentile')
    .option('--percentile <p>', 'with --method percentile: share of values kept inside each range, in percent', '99.99')
    .option('--calibration <dir>', 'folder of face crop images (JPEG/PNG), one face each (default: the training data and split named in the card)')
    .option('--data <root>', 'labelled data root (Pascal VOC, class folders or a flat folder); faces are cut with the card\'s crop margin')
    .option('--samples <n>', 'calibration crops to use', '200')
    .option('--check <n>', 'other crops to compare the int8 model with the float model on', '200')
    .option('--weights <w>', 'int8 (u8×s8 kernels: fast with VNNI or Arm dot products, saturate on x86 without VNNI), uint8 (symmetric levels + 128, exact on every CPU, slow) or int8-7bit', 'int8')
    .option('--float-layers <n>', 'leading weighted layers kept float (default: the fewest whose labels agree with float on ≥ 99 % of check crops)')
    .option('--cache-dir <dir>', 'photo probe cache, when the card\'s training data is used', '.cache/features')
    .option('--no-progress', 'no progress bars')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, flags: QuantizeFlags) => {
      const method = flags.method;
      if (method !== 'minmax' && method !== 'percentile') throw new Error(`--method: minmax or percentile, got ${method}`);
      const percentile = Number(flags.percentile);
      if (method === 'percentile' && !(percentile > 50 && percentile <= 100)) throw new Error(`--percentile: a number in (50, 100], got ${flags.percentile}`);
      const samples = positiveInt('--samples', flags.samples);
      const check = positiveInt('--check', flags.check, true);
      const weights = flags.weights;
      if (weights !== 'int8' && weights !== 'int8-7bit' && weights !== 'uint8') throw new Error(`--weights: int8, int8-7bit or uint8, got ${weights}`);
      const floatLayers = flags.floatLayers === undefined ? undefined : positiveInt('--float-layers', flags.floatLayers, true);
      const { quantizeModelDir } = await import('../workflows/quantize/quantize-model-dir.js');
      const r = await quantizeModelDir(dir, { method, percentile: method === 'percentile' ? percentile : undefined, calibration: flags.calibration, data: flags.data, samples, check, weights, floatLayers, cacheDir: flags.cacheDir, progress: flags.progress });
      const a = r.agreement;
      if (flags.json) {
        process.stdout.write(JSON.stringify({ file: r.file, report: r.report, agreement: a, opsAfterOptimization: r.opsAfterOptimization }) + '\n');
        return;
      }
      const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
      process.stdout.write(
        `wrote ${r.file}: ${kb(r.report.bytes.int8)} (float ${kb(r.report.bytes.float)}), ${r.report.method}${r.report.percentile !== undefined ? ` ${r.report.percentile}` : ''}, ${r.report.calibrationSamples} calibration crops, first ${r.report.floatLayers} layer(s) float\n` +
          `agreement with float on ${a.on}: labels ${(a.labelAgreement * 100).toFixed(1)} %, max |Δp| ${a.maxProbDiff.toFixed(3)}, mean |Δp| ${a.meanProbDiff.toFixed(4)}\n` +
          `ONNX Runtime kernels: ${Object.entries(r.opsAfterOptimization).map(([op, n]) => `${op.replace(/^com\.microsoft\./, '')}×${n}`).join(', ')}\n`,
      );
    });
}

function positiveInt(flag: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new Error(`${flag}: a whole number${allowZero ? '' : ' ≥ 1'}, got ${value}`);
  return n;
}
