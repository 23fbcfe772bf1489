import { REPO_ROOT } from '../core/paths.js';
import convict from 'convict';
import fs from 'node:fs';
import path from 'node:path';
import { registerSecret } from '../core/log.js';
import { checkFileKeys, ConfigError, readConfigFile } from './config-file.js';
import { crossCheck } from './cross-checks.js';
import { redactUrlPassword, valueFromText } from './formats.js';
import { didYouMean, LEAVES } from './keys.js';
import { schema, type MaskwatchConfig } from './schema.js';

export { ConfigError };

export interface LoadOptions {
  /** Config file; a missing file is an error only when it was asked for. */
  file?: string;
  fileRequired?: boolean;
  /** Dotted overrides from flags, e.g. {'camera.source': 'demo'}; text is converted as for environment variables. */
  overrides?: Record<string, unknown>;
  /** The flag each override came from ({'camera.source': '--camera'}), for messages. */
  flagNames?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

export type ValueOrigin = { kind: 'default' } | { kind: 'file'; file: string } | { kind: 'env'; name: string } | { kind: 'flag'; flag: string | null };

export interface LoadedConfig {
  config: MaskwatchConfig;
  source: convict.Config<MaskwatchConfig>;
  /** Where each value that is not a default came from. */
  origins: ReadonlyMap<string, ValueOrigin>;
  /** What was read, in order of precedence (lowest first): "defaults", "file …", "environment …", "flags …". */
  checked: string[];
}

export const DEFAULT_CONFIG_FILE = '/etc/maskwatch/config.json';

/** The maskwatch folder (the bundled models are under <it>/models); the same as vision's REPO_ROOT, which config may not import. */

/** A relative model folder that is not under the working directory but is in the maskwatch folder is taken from there. */
function resolveModelDir(cfg: convict.Config<MaskwatchConfig>): void {
  const dir = cfg.get('classifier.modelDir');
  if (typeof dir !== 'string' || dir === '' || path.isAbsolute(dir) || fs.existsSync(dir)) return;
  const bundled = path.join(REPO_ROOT, dir);
  if (fs.existsSync(bundled)) cfg.set('classifier.modelDir', bundled);
}

function originText(origin: ValueOrigin): string {
  switch (origin.kind) {
    case 'default':
      return 'the default';
    case 'file':
      return `in ${origin.file}`;
    case 'env':
      return `from environment variable ${origin.name}`;
    case 'flag':
      return origin.flag ? `from flag ${origin.flag}` : 'from the command line';
  }
}

/** A value as it may be shown: secrets as ***, a password inside a URL redacted. */
function shownValue(key: string, value: unknown): string {
  if (LEAVES.get(key)?.sensitive) return '***';
  if (typeof value === 'string') return JSON.stringify(redactUrlPassword(value));
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

/**
 * Loads and strictly validates the config: defaults < file < environment < flags. Every problem
 * is one line naming the key, the value, where it came from and what is allowed; all are thrown
 * together as one ConfigError. `config check` and `run` both load through here.
 */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  // convict reads neither process.env nor argv itself: the loader sets them, so it knows each value's origin
  const cfg = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {}, args: [] });
  const origins = new Map<string, ValueOrigin>();
  const problems: string[] = [];
  const checked = ['defaults'];

  if (opts.file) {
    const obj = readConfigFile(opts.file, opts.fileRequired ?? false);
    if (obj) {
      const keys = checkFileKeys(obj, opts.file);
      problems.push(...keys.problems);
      cfg.load(keys.clean as Partial<MaskwatchConfig>);
      for (const key of keys.leafKeys) origins.set(key, { kind: 'file', file: opts.file });
      checked.push(`file ${opts.file}`);
    } else {
      checked.push(`no file at ${opts.file}`);
    }
  }

  const env = opts.env ?? process.env;
  const envUsed: string[] = [];
  for (const [key, leaf] of LEAVES) {
    const text = leaf.env ? env[leaf.env] : undefined;
    if (!leaf.env || text === undefined) continue;
    cfg.set(key as never, valueFromText(leaf.format, text) as never);
    origins.set(key, { kind: 'env', name: leaf.env });
    envUsed.push(leaf.env);
  }
  checked.push(envUsed.length ? `environment ${envUsed.join(', ')}` : 'environment (no MASKWATCH_* variable set)');

  const flagsUsed: string[] = [];
  for (const [key, value] of Object.entries(opts.overrides ?? {})) {
    const flag = opts.flagNames?.[key] ?? null;
    const leaf = LEAVES.get(key);
    if (!leaf) {
      problems.push(`config: unknown key '${key}'${flag ? ` (flag ${flag})` : ''}${didYouMean(key)}`);
      continue;
    }
    cfg.set(key as never, (typeof value === 'string' ? valueFromText(leaf.format, value) : value) as never);
    origins.set(key, { kind: 'flag', flag });
    flagsUsed.push(flag ?? key);
  }
  checked.push(flagsUsed.length ? `flags ${flagsUsed.join(', ')}` : 'flags (none)');

  resolveModelDir(cfg);
  const describe = (key: string) => `${key} = ${shownValue(key, cfg.get(key as never))} (${originText(origins.get(key) ?? { kind: 'default' })})`;
  const invalid = new Set<string>();
  try {
    cfg.validate({ allowed: 'strict' });
  } catch (err) {
    for (const line of (err as Error).message.split('\n').filter(Boolean)) {
      // convict's lines are "<key>: <what is wrong>[: value was <json>]"; the value is shown by describe()
      const key = [...LEAVES.keys()].find((k) => line.startsWith(`${k}: `));
      if (!key) {
        problems.push(`config: ${line}`);
        continue;
      }
      invalid.add(key);
      problems.push(`config: ${describe(key)}: ${line.slice(key.length + 2).replace(/: value was .*$/s, '')}`);
    }
  }
  const config = cfg.getProperties();
  problems.push(...crossCheck(config, { valid: (k) => !invalid.has(k), describe }));
  if (problems.length) throw new ConfigError(problems.join('\n'));

  registerSecret(config.mqtt.password);
  registerSecret(urlPassword(config.mqtt.url));
  return { config, source: cfg, origins, checked };
}

function urlPassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** The config as JSON with secrets replaced by "[Sensitive]" and a password inside mqtt.url by ***. */
export function printableConfig(source: convict.Config<MaskwatchConfig>): string {
  const config = JSON.parse(source.toString()) as MaskwatchConfig;
  config.mqtt.url = redactUrlPassword(config.mqtt.url);
  return JSON.stringify(config, null, 2);
}
