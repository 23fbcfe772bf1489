import type { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, printableConfig } from '../config/load.js';

export function register(program: Command): void {
  const config = program.command('config').description('Check or print the configuration (defaults, file, environment, flags)');
  config
    .command('check')
    .description('Validate the config file strictly; prints one line per problem and exits 1 if any')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .action((opts: { config: string }) => {
      const { config: cfg } = loadOrExit(opts.config);
      process.stdout.write(`config ${opts.config}: ok (device ${cfg.deviceId}, camera ${cfg.camera.source}, mqtt ${cfg.mqtt.enabled ? 'on' : 'off'})\n`);
    });
  config
    .command('print')
    .description('Print the effective configuration as JSON, secrets redacted')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .action((opts: { config: string }) => {
      const { source } = loadOrExit(opts.config);
      process.stdout.write(printableConfig(source) + '\n');
    });
}

function loadOrExit(file: string): ReturnType<typeof loadConfig> {
  try {
    return loadConfig({ file, fileRequired: file !== DEFAULT_CONFIG_FILE });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(1);
    }
    throw err;
  }
}
