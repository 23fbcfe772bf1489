import type { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from '../config/load.js';
import { createLogger, errorMessage, setLogLevel, type LogLevel } from '../core/log.js';
import type { Daemon } from '../daemon/daemon.js';

const log = createLogger('run');

interface RunOptions {
  config: string;
  camera?: string;
  model?: string;
  precision?: string;
  gpio?: string;
  mqtt: boolean;
  mqttUrl?: string;
  stateDir?: string;
  logLevel?: string;
  exitAfterMs?: string;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Run the kiosk daemon: camera → faces → mask classifier → lights, buzzer and MQTT events')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .option('--camera <source>', 'camera.source: auto, demo, libcamera, v4l2:/dev/videoN, gstreamer:<pipeline>, file:<path>')
    .option('--model <dir>', 'classifier.modelDir')
    .option('--precision <p>', 'classifier.precision: int8 or float')
    .option('--gpio <backend>', 'signals.backend: auto, chardev, sysfs, console, none')
    .option('--no-mqtt', 'do not connect to a broker (events stay in the outbox)')
    .option('--mqtt-url <url>', 'mqtt.url')
    .option('--state-dir <dir>', 'stateDir')
    .option('--log-level <level>', 'log.level')
    .option('--exit-after-ms <ms>', 'stop by itself after this long (demos, tests)')
    .addHelpText('after', '\nOn a machine without camera or GPIO, `maskwatch run` plays the bundled demo clip with console lights.')
    .action(async (opts: RunOptions) => {
      const overrides: Record<string, unknown> = {};
      if (opts.camera) overrides['camera.source'] = opts.camera;
      if (opts.model) overrides['classifier.modelDir'] = opts.model;
      if (opts.precision) overrides['classifier.precision'] = opts.precision;
      if (opts.gpio) overrides['signals.backend'] = opts.gpio;
      if (!opts.mqtt) overrides['mqtt.enabled'] = false;
      if (opts.mqttUrl) overrides['mqtt.url'] = opts.mqttUrl;
      if (opts.stateDir) overrides['stateDir'] = opts.stateDir;
      if (opts.logLevel) overrides['log.level'] = opts.logLevel;
      let config;
      try {
        ({ config } = loadConfig({ file: opts.config, fileRequired: opts.config !== DEFAULT_CONFIG_FILE, overrides }));
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(err.message + '\n');
          process.exit(2);
        }
        throw err;
      }
      setLogLevel(config.log.level as LogLevel);
      const { buildDaemon } = await import('../daemon/factory.js');
      const { installExitSafety } = await import('../daemon/exit-safety.js');
      // Signals are handled from here on, model loading included: a stop during start-up is an orderly one.
      let daemon: Daemon | null = null;
      installExitSafety({ stop: async () => daemon?.stop() }, { linesOff: () => daemon?.offSync() });
      try {
        daemon = await buildDaemon(config);
      } catch (err) {
        process.stderr.write(`maskwatch: ${errorMessage(err)}\n`);
        process.exit(2);
      }
      try {
        await daemon.start();
      } catch (err) {
        process.stderr.write(`maskwatch: ${errorMessage(err)}\n`);
        await daemon.stop().catch(() => undefined);
        process.exit(2);
      }
      void daemon.whenSourceEnded().then(() => {
        log.info('the camera source ended (a file played without loop): stopping');
        process.kill(process.pid, 'SIGTERM');
      });
      if (opts.exitAfterMs) setTimeout(() => process.kill(process.pid, 'SIGTERM'), Number(opts.exitAfterMs)).unref();
      log.debug('running');
    });
}
