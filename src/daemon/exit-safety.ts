import { createLogger, errorMessage } from '../core/log.js';

const log = createLogger('daemon');

export interface Stoppable {
  stop(): Promise<void>;
}

/** SIGTERM/SIGINT: stop in order within the deadline, exit 0. An uncaught error: stop what can be stopped, exit 1. */
export function installExitSafety(daemon: Stoppable, deadlineMs = 1800): void {
  let exiting = false;
  const exitAfterStop = (code: number, why: string) => {
    if (exiting) return;
    exiting = true;
    log.info(`${why}: stopping`);
    const timer = setTimeout(() => {
      log.error(`stop took longer than ${deadlineMs} ms; exiting anyway`);
      process.exit(code || 1);
    }, deadlineMs);
    daemon
      .stop()
      .catch((err) => log.error(`stop failed: ${errorMessage(err)}`))
      .finally(() => {
        clearTimeout(timer);
        process.exit(code);
      });
  };
  process.once('SIGTERM', () => exitAfterStop(0, 'SIGTERM'));
  process.once('SIGINT', () => exitAfterStop(0, 'SIGINT'));
  process.on('uncaughtException', (err) => {
    log.error(`uncaught error: ${err.stack ?? errorMessage(err)}`);
    exitAfterStop(1, 'uncaught error');
  });
  process.on('unhandledRejection', (reason) => {
    log.error(`unhandled rejection: ${errorMessage(reason)}`);
    exitAfterStop(1, 'unhandled rejection');
  });
}
