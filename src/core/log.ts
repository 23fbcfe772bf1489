/**
 * One logger per module (Homebridge style): `createLogger('mqtt').info(...)`.
 * Lines go to stderr so stdout stays free for --json output. When stderr is the journal (a systemd
 * service), each line starts with its syslog priority instead of a timestamp (sd-daemon(3): `<3>` error,
 * `<4>` warning, `<6>` info, `<7>` debug), so `journalctl -p warning` works; journald adds the time.
 */
import fs from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SYSLOG_PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/**
 * True when stderr goes to journald: JOURNAL_STREAM names stderr's device:inode (a shell that merely
 * inherited JOURNAL_STREAM from a desktop session has another stderr), or, without JOURNAL_STREAM, a
 * systemd service (INVOCATION_ID) whose output systemd forwards with the same prefix convention.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, stderrFd = 2): boolean {
  if (env.JOURNAL_STREAM) {
    try {
      const st = fs.fstatSync(stderrFd, { bigint: true });
      return env.JOURNAL_STREAM === `${st.dev}:${st.ino}`;
    } catch {
      return false;
    }
  }
  return !!env.INVOCATION_ID;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

type Sink = (line: string, level: LogLevel) => void;

const state: { level: LogLevel; sink: Sink; secrets: string[]; journal: boolean } = {
  level: (process.env.MASKWATCH_LOG_LEVEL as LogLevel) in ORDER ? (process.env.MASKWATCH_LOG_LEVEL as LogLevel) : 'info',
  sink: (line) => process.stderr.write(line + '\n'),
  secrets: [],
  journal: stderrIsJournal(),
};

export function setLogLevel(level: LogLevel): void {
  state.level = level;
}

export function logLevel(): LogLevel {
  return state.level;
}

/** A line another thread's logger already formatted (see setLogSink there): filtered, redacted and written here. */
export function writeForeignLine(line: string, level: LogLevel): void {
  if (ORDER[level] >= ORDER[state.level]) state.sink(redact(oneLine(line)), level);
}

/** Redirects every logger (tests capture lines with this). Returns the previous sink. */
export function setLogSink(sink: Sink): Sink {
  const previous = state.sink;
  state.sink = sink;
  return previous;
}

/** Registers a secret value: it is replaced by *** in every line logged from now on. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 3 && !state.secrets.includes(value)) state.secrets.push(value);
}

function redact(line: string): string {
  let out = line;
  for (const s of state.secrets) out = out.split(s).join('***');
  return out;
}

export function createLogger(module: string): Logger {
  const emit = (level: LogLevel, msg: string) => {
    if (ORDER[level] < ORDER[state.level]) return;
    const head = state.journal ? `<${SYSLOG_PRIORITY[level]}>` : `${new Date().toISOString()} `;
    state.sink(redact(`${head}${level.toUpperCase().padEnd(5)} [${module}] ${oneLine(msg)}`), level);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

/** Every log line is one line: a newline or other control character in a message (a stack trace, text from the network) is escaped, so nothing can start a line of its own. */
function oneLine(msg: string): string {
  return msg.replace(/[\u0000-\u001f\u007f]/g, (ch) => (ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : ch === '\t' ? ' ' : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** The message of anything thrown, for one-line errors. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Up to `most` items joined by commas, then how many more: keeps a log line short. */
export function listSome(items: string[], most = 5): string {
  return items.length > most ? `${items.slice(0, most).join(', ')} and ${items.length - most} more` : items.join(', ');
}
