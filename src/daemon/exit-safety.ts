import { createLogger, errorMessage } from '../core/log.js';

const log = createLogger('daemon');

export interface ExitTarget {
  stop(): Promise<void>;
}

export interface ExitOptions {
  /** Lines off synchronously on process 'exit' (which Node also reaches after an uncaught error). */
  linesOff: () => void;
  deadlineMs?: number;
}

/**
 * The one exit path. SIGTERM/SIGINT/SIGHUP: stop in order within the deadline, exit 0 (a hangup would otherwise kill
 * the process with the lights on); a second signal while stopping is
 * noted and does not cut the stop short (`timeout` and systemd both signal twice). An uncaught error: stop what can be
 * stopped, exit 1. On process 'exit', whatever happened, the GPIO lines go off synchronously.
 */
export function installExitSafety(target: ExitTarget, opts: ExitOptions): () => void {
  let exiting = false;
  const deadlineMs = opts.deadlineMs ?? 1800;
  const exitAfterStop = (code: number, why: string) => {
    if (exiting) {
      log.info(`${why} while stopping: still stopping`);
      return;
    }
    exiting = true;
    log.info(`${why}: stopping`);
    const timer = setTimeout(() => {
      log.error(`stop took longer than ${deadlineMs} ms; exiting anyway`);
      process.exit(code || 1);
    }, deadlineMs);
    target
      .stop()
      .catch((err) => log.error(`stop failed: ${errorMessage(err)}`))
      .finally(() => {
        clearTimeout(timer);
        process.exit(code);
      });
  };
  const onExit = () => {
    try {
      opts.linesOff();
    } catch {
      /* nothing more to do on the way out */
    }
  };
  const onTerm = () => exitAfterStop(0, 'SIGTERM');
  const onInt = () => exitAfterStop(0, 'SIGINT');
  const onHup = () => exitAfterStop(0, 'SIGHUP');
  // A reader that went away (`… | head`) makes the next write fail with EPIPE on the stream, not at the call.
  const onStreamError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') onError(err);
  };
  const onError = (err: Error) => {
    log.error(`uncaught error: ${err.stack ?? errorMessage(err)}`);
    exitAfterStop(1, 'uncaught error');
  };
  const onRejection = (reason: unknown) => {
    log.error(`unhandled rejection: ${errorMessage(reason)}`);
    exitAfterStop(1, 'unhandled rejection');
  };
  process.on('exit', onExit);
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  process.stdout.on('error', onStreamError);
  process.stderr.on('error', onStreamError);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('exit', onExit);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
    process.stdout.off('error', onStreamError);
    process.stderr.off('error', onStreamError);
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onRejection);
  };
}
