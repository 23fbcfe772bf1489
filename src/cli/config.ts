import { Option, type Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, printableConfig, type LoadedConfig } from '../config/load.js';

/** The flags `run` takes for config keys; `config check` and `config print` take the same, so they load what run loads. */
const CONFIG_FLAGS: ReadonlyArray<{ flags: string; key: string; description: string }> = [
  {
    flags: '--camera <source>',
    key: 'camera.source',
    description: 'camera.source: auto (the first camera found; never the demo), demo (the bundled demo clip), libcamera, v4l2:/dev/videoN, gstreamer:<pipeline>, file:<path>',
  },
  { flags: '--model <dir>', key: 'classifier.modelDir', description: 'classifier.modelDir' },
  { flags: '--precision <p>', key: 'classifier.precision', description: 'classifier.precision: auto, int8 or float' },
  { flags: '--gpio <backend>', key: 'signals.backend', description: 'signals.backend: auto, chardev, sysfs, console, none' },
  { flags: '--no-mqtt', key: 'mqtt.enabled', description: 'do not connect to a broker (events stay in the outbox)' },
  { flags: '--mqtt-url <url>', key: 'mqtt.url', description: 'mqtt.url' },
  { flags: '--state-dir <dir>', key: 'stateDir', description: 'stateDir' },
  { flags: '--log-level <level>', key: 'log.level', description: 'log.level' },
];

/** Adds --config and the config flags to a command. */
export function addConfigOptions(cmd: Command): Command {
  cmd.option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE);
  for (const f of CONFIG_FLAGS) cmd.addOption(new Option(f.flags, f.description));
  return cmd;
}

/** Loads the config as the command's flags say; a problem is printed (one line each) and exits with exitCode. */
export function loadConfigOrExit(cmd: Command, exitCode: number): LoadedConfig {
  const opts = cmd.opts<Record<string, unknown>>();
  const overrides: Record<string, unknown> = {};
  const flagNames: Record<string, string> = {};
  for (const f of CONFIG_FLAGS) {
    const option = new Option(f.flags);
    const name = option.attributeName();
    if (cmd.getOptionValueSource(name) !== 'cli') continue;
    overrides[f.key] = opts[name];
    flagNames[f.key] = option.long!;
  }
  const file = opts.config as string;
  try {
    return loadConfig({ file, fileRequired: file !== DEFAULT_CONFIG_FILE, overrides, flagNames });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(exitCode);
    }
    throw err;
  }
}

export function register(program: Command): void {
  const config = program.command('config').description('Check or print the configuration (defaults, file, environment, flags)');
  addConfigOptions(
    config.command('check').description('Validate the configuration exactly as `run` loads it; prints one line per problem and exits 1 if any'),
  ).action((_opts: unknown, cmd: Command) => {
    const { config: cfg, checked } = loadConfigOrExit(cmd, 1);
    process.stdout.write(`config ok (${checked.join('; ')}): device ${cfg.deviceId}, camera ${cfg.camera.source}, gpio ${cfg.signals.backend}, mqtt ${cfg.mqtt.enabled ? 'on' : 'off'}\n`);
  });
  addConfigOptions(config.command('print').description('Print the effective configuration as JSON, secrets redacted')).action((_opts: unknown, cmd: Command) => {
    process.stdout.write(printableConfig(loadConfigOrExit(cmd, 1).source) + '\n');
  });
}
