import type { Command } from 'commander';
import { createLogger, errorMessage, setLogLevel } from '../core/log.js';
import { addConfigOptions, loadConfigOrExit } from './config.js';
import type { Daemon } from '../daemon/daemon.js';

const log = createLogger('run');

export function register(program: Command): void {
  const run = program
    .command('run')
    .description('Run the kiosk daemon: camera → faces → mask classifier → lights, buzzer and MQTT events');
  addConfigOptions(run)
    .option('--exit-after-ms <ms>', 'stop by itself after this long (demos, tests)')
    .addHelpText(
      'after',
      '\nWithout a camera, `auto` publishes the camera state and retries; it never plays the demo clip.\n' +
        'On a machine without camera or GPIO: `maskwatch run --camera demo --gpio console` (what `npm start` runs).',
    )
    .action(async (opts: { exitAfterMs?: string }, cmd: Command) => {
      const exitAfterMs = opts.exitAfterMs === undefined ? undefined : Number(opts.exitAfterMs);
      if (exitAfterMs !== undefined && !(Number.isInteger(exitAfterMs) && exitAfterMs > 0)) {
        process.stderr.write(`maskwatch: --exit-after-ms: a whole number of milliseconds > 0, got ${JSON.stringify(opts.exitAfterMs)}\n`);
        process.exit(2);
      }
      const { config } = loadConfigOrExit(cmd, 2);
      setLogLevel(config.log.level);
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
      if (exitAfterMs) setTimeout(() => process.kill(process.pid, 'SIGTERM'), exitAfterMs).unref();
      log.debug('running');
    });
}
