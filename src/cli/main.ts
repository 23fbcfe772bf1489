import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../core/log.js';

/** Each command lives in its own file and exports `register(program)`; heavy imports stay inside actions. */
const COMMANDS = ['run', 'predict', 'classify', 'train', 'eval', 'quantize', 'synth', 'export', 'config'] as const;

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string; description: string };

export async function buildProgram(): Promise<Command> {
  const program = new Command('maskwatch')
    .description(pkg.description)
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  for (const name of COMMANDS) {
    const mod = (await import(`./${name}.js`)) as { register(program: Command): void };
    mod.register(program);
  }
  return program;
}

/** A production install (npm prune --omit=dev) leaves out TF.js, which only train, export, synth and quantize load. */
function missingTrainingPackage(err: unknown): string | null {
  const code = (err as NodeJS.ErrnoException).code;
  const name = /Cannot find (?:package|module) '(@tensorflow\/[^'/]+)/.exec(errorMessage(err))?.[1];
  if (!name || (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND')) return null;
  const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
  return `this command needs ${name}, which a production install leaves out: run \`npm ci --include=dev\` in ${root} to add the training packages`;
}

async function main(): Promise<void> {
  const program = await buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    process.stderr.write(`maskwatch: ${missingTrainingPackage(err) ?? errorMessage(err)}\n`);
    process.exit(1);
  }
}

await main();
