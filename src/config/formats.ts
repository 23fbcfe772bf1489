import convict from 'convict';
import fs from 'node:fs';
import path from 'node:path';
import { folderProblem } from '../core/files.js';

/**
 * The config's own convict formats. None coerces: a value in a file must already have the right
 * JSON type ("no" is not a boolean, "15" is not a number). Text from environment variables and
 * flags is converted by valueFromText() before it is set.
 */

/** The TypeScript type each named format holds; MaskwatchConfig is derived from it and the schema. */
export interface FormatTypes {
  bool: boolean;
  fraction: number;
  /** A fraction, or null for the model's own default. */
  'model-fraction': number | null;
  'gpio-line': number | string | null;
  'camera-source': string;
  'buzzer-pattern': string;
  'clock-time': string;
  'device-id': string;
  'topic-prefix': string;
  'broker-url': string;
  'model-dir': string;
  'optional-file': string;
  'state-dir': string;
}

export type IntegerFormat = `integer ${number}..${number}`;

const BROKER_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss'];

/** Why a topic prefix (levels split by /) or a single topic level is unusable, or null. */
export function topicPartProblem(value: string, allowSlash: boolean): string | null {
  if (!allowSlash) return /^[A-Za-z0-9_-]+$/.test(value) ? null : 'may only contain letters, digits, _ and - (it is one MQTT topic level)';
  if (value === '') return 'must not be empty';
  if (/[+#]/.test(value)) return 'must not contain the MQTT wildcards + or #';
  if (/[\s\u0000]/.test(value)) return 'must not contain spaces';
  if (value.startsWith('$')) return 'must not start with $ (reserved for the broker)';
  if (value.startsWith('/') || value.endsWith('/') || value.includes('//')) return 'must not have empty levels (a leading, trailing or double /)';
  return null;
}

/** Why a broker URL is unusable, or null. The port check comes first: URL() only says "Invalid URL" for it. */
export function brokerUrlProblem(value: string): string | null {
  const allowed = 'must be a broker URL such as mqtt://broker:1883 (scheme mqtt, mqtts, ws or wss; port 1-65535)';
  const port = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)(?:[/?#]|$)/i.exec(value)?.[1];
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) return `port ${port} is not 1-65535`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return allowed;
  }
  const scheme = url.protocol.slice(0, -1);
  if (!BROKER_SCHEMES.includes(scheme)) return `scheme ${scheme} is not one of ${BROKER_SCHEMES.join(', ')}; ${allowed}`;
  if (!value.slice(url.protocol.length).startsWith('//') || url.hostname === '') return `has no host; ${allowed}`;
  for (const [what, part] of [['user name', url.username], ['password', url.password]] as const) {
    try {
      decodeURIComponent(part);
    } catch {
      return `the ${what} in it has a malformed %-escape (write a % as %25)`;
    }
  }
  return null;
}

/**
 * The URL with the password of its user part replaced by ***. Also for what URL() rejects (a password holding / ? # @,
 * no "//"): everything from the user part's first colon to the last @ counts as the password, so nothing of it shows.
 */
export function redactUrlPassword(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? '';
  const userPart = value.slice(scheme.length, at);
  const colon = userPart.indexOf(':');
  if (colon < 0) return value;
  return `${scheme}${userPart.slice(0, colon)}:***${value.slice(at)}`;
}

function shownPath(p: string): string {
  return path.isAbsolute(p) ? p : `${p} (${path.resolve(p)})`;
}

function mustBeString(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new Error('must be a string');
}

/** Throws "no such file" / "not a folder" unless p is a file (or a folder) this user can read. */
function checkReadable(p: string, kind: 'file' | 'folder'): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    throw new Error(`${shownPath(p)}: no such ${kind}`);
  }
  if (kind === 'file' ? !stat.isFile() : !stat.isDirectory()) throw new Error(`${shownPath(p)}: not a ${kind}`);
  try {
    fs.accessSync(p, fs.constants.R_OK);
  } catch {
    throw new Error(`${shownPath(p)}: cannot be read by this user`);
  }
}

const FORMATS: { [K in keyof FormatTypes]: (value: unknown) => void } = {
  bool(value) {
    if (typeof value !== 'boolean') throw new Error('must be true or false (JSON true/false; "true"/"false"/"1"/"0" from the environment)');
  },
  fraction(value) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error('must be a number from 0 to 1');
  },
  'model-fraction'(value) {
    if (value === null) return;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error("must be a number from 0 to 1, or null for the detector model's own default");
  },
  'gpio-line'(value) {
    if (value === null) return;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return;
    if (typeof value === 'string' && /^\d+$/.test(value)) throw new Error(`a line offset is a number: write ${value}, not "${value}"`);
    if (typeof value === 'string' && /^[A-Za-z0-9_.-]+$/.test(value)) return;
    throw new Error('must be a line offset (integer ≥ 0), a line name such as "GPIO17", or null to leave it unused');
  },
  'camera-source'(value) {
    mustBeString(value);
    if (value === 'auto' || value === 'libcamera' || value === 'demo') return;
    if (/^v4l2:\/dev\/[\w./-]+$/.test(value)) return;
    if (/^gstreamer:.+/.test(value)) return;
    if (/^file:.+/.test(value)) {
      if (!fs.existsSync(value.slice(5))) throw new Error(`${shownPath(value.slice(5))}: no such file or folder`);
      return;
    }
    throw new Error('must be one of: auto, demo, libcamera, v4l2:/dev/videoN, gstreamer:<pipeline ending in jpegenc>, file:<video or folder of images>');
  },
  'buzzer-pattern'(value) {
    mustBeString(value);
    if (value === '') return;
    if (!/^\d+(,\d+)*$/.test(value)) throw new Error('must be "" (silent) or on/off durations in ms, such as "1000" or "150,100,150"');
    if (value.split(',').some((n) => Number(n) <= 0 || Number(n) > 10_000)) throw new Error('each duration must be 1..10000 ms');
  },
  'clock-time'(value) {
    if (value === '') return;
    if (typeof value !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(value)) throw new Error('must be "" (off) or a time HH:MM, such as "22:00"');
  },
  'device-id'(value) {
    mustBeString(value);
    const problem = topicPartProblem(value, false);
    if (problem) throw new Error(problem);
  },
  'topic-prefix'(value) {
    mustBeString(value);
    const problem = topicPartProblem(value, true);
    if (problem) throw new Error(`${problem}; a topic prefix is levels split by /, such as maskwatch or site/shop`);
  },
  'broker-url'(value) {
    mustBeString(value);
    const problem = brokerUrlProblem(value);
    if (problem) throw new Error(problem);
  },
  'model-dir'(value) {
    mustBeString(value);
    checkReadable(value, 'folder');
    if (!fs.existsSync(path.join(value, 'model-card.json'))) throw new Error(`${shownPath(value)}: no model-card.json in it`);
  },
  'optional-file'(value) {
    mustBeString(value);
    if (value !== '') checkReadable(value, 'file');
  },
  'state-dir'(value) {
    mustBeString(value);
    const problem = stateDirProblem(value);
    if (problem) throw new Error(problem);
  },
};

/** Why `run` could not keep its state in this folder, or null (write access is left to `run`: `config check` may be run by another user). */
export function stateDirProblem(value: string): string | null {
  if (value.trim() === '') return 'must be a folder (for the outbox and state), not empty';
  return folderProblem(value);
}

const integerRanges = new Map<string, [number, number]>();

/** A named format for integers min..max (registered once per range; the name is what docs/CONFIG.md shows). */
export function integer(min: number, max: number): IntegerFormat {
  const name: IntegerFormat = `integer ${min}..${max}`;
  if (!integerRanges.has(name)) {
    integerRanges.set(name, [min, max]);
    convict.addFormat({
      name,
      validate(value: unknown) {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw new Error(`must be an integer from ${min} to ${max}`);
        if (value < min || value > max) throw new Error(`must be from ${min} to ${max}`);
      },
    });
  }
  return name;
}

let registered = false;

/** Registers the named formats with convict (once). */
export function registerFormats(): void {
  if (registered) return;
  registered = true;
  for (const [name, validate] of Object.entries(FORMATS)) convict.addFormat({ name, validate });
}

/**
 * Text from an environment variable or a flag as the value its format expects. Text that does not
 * convert cleanly stays text, so validation names it ("12abc" is not an integer, "no" is not a boolean).
 */
export function valueFromText(format: unknown, text: string): unknown {
  if (format === 'bool') return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : text;
  if (typeof format === 'string' && integerRanges.has(format)) return /^-?\d+$/.test(text) ? Number(text) : text;
  if (format === 'model-fraction') return text === 'null' || text === '' ? null : Number.isFinite(Number(text)) ? Number(text) : text;
  if (format === 'fraction') return /^\s*$/.test(text) || !Number.isFinite(Number(text)) ? text : Number(text);
  if (format === 'gpio-line') return text === 'null' || text === '' ? null : /^\d+$/.test(text) ? Number(text) : text;
  if (Array.isArray(format) && format.every((v) => typeof v === 'number')) return /^\d+$/.test(text) ? Number(text) : text;
  return text;
}
