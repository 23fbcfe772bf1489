import type { Command } from 'commander';

interface ExportFlags {
  out: string;
  outputName: string;
  checks: string;
  tolerance: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('Convert a TF.js layers model (model.json + weights, e.g. a MobileNetV2 classifier) to ONNX and check it against TF.js on random inputs')
    .argument('<tfjs-model-dir>', 'folder with model.json and its weight files')
    .requiredOption('--out <file.onnx>', 'ONNX file to write (input "input" NHWC float32, already normalised)')
    .option('--output-name <name>', 'name of the ONNX output', 'probs')
    .option('--checks <n>', 'random inputs on which ONNX Runtime and TF.js are compared (0 skips the check)', '2')
    .option('--tolerance <x>', 'largest accepted max |ONNX − TF.js|; above it nothing is written', '1e-4')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, flags: ExportFlags) => {
      const checks = Number(flags.checks);
      if (!Number.isInteger(checks) || checks < 0) throw new Error(`--checks: a whole number ≥ 0, got ${flags.checks}`);
      const tolerance = Number(flags.tolerance);
      if (!(tolerance > 0)) throw new Error(`--tolerance: a positive number, got ${flags.tolerance}`);
      if (!flags.outputName) throw new Error('--output-name: must not be empty');
      const { exportLayersDirToOnnx } = await import('../workflows/export/export-dir.js');
      const r = await exportLayersDirToOnnx(dir, flags.out, { outputName: flags.outputName, checks, tolerance });
      if (flags.json) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      const shape = (s: Array<number | null>) => `[${s.map((d) => d ?? 'batch').join(',')}]`;
      const check = checks > 0 ? `max |ONNX − TF.js| = ${r.maxAbsDiff.toExponential(2)} on ${checks} random inputs` : 'not checked';
      process.stdout.write(`wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KB): input ${shape(r.inputShape)} → output '${flags.outputName}' ${shape(r.outputShape)}; ${check}\n`);
    });
}
