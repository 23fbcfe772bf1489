/**
 * One logger per module (Homebridge style): `createLogger('mqtt').info(...)`.
 * Lines go to stderr so stdout stays free for --json output.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

type Sink = (line: string, level: LogLevel) => void;

const state: { level: LogLevel; sink: Sink; secrets: string[] } = {
  level: (process.env.MASKWATCH_LOG_LEVEL as LogLevel) in ORDER ? (process.env.MASKWATCH_LOG_LEVEL as LogLevel) : 'info',
  sink: (line) => process.stderr.write(line + '\n'),
  secrets: [],
};

export function setLogLevel(level: LogLevel): void {
  state.level = level;
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
    const ts = new Date().toISOString();
    state.sink(redact(`${ts} ${level.toUpperCase().padEnd(5)} [${module}] ${msg}`), level);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

/** The message of anything thrown, for one-line errors. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
