import convict from 'convict';
import fs from 'node:fs';
import { schema, type MaskwatchConfig } from './schema.js';
import { registerSecret } from '../core/log.js';

export class ConfigError extends Error {}

export interface LoadOptions {
  /** Config file; a missing file is an error only when it was asked for. */
  file?: string;
  fileRequired?: boolean;
  /** Dotted overrides from flags, e.g. {'camera.source': 'demo'}. */
  overrides?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_CONFIG_FILE = '/etc/maskwatch/config.json';

/** Loads and strictly validates the config: an unknown key or bad value throws one ConfigError naming each. */
export function loadConfig(opts: LoadOptions = {}): { config: MaskwatchConfig; source: convict.Config<MaskwatchConfig> } {
  const cfg = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: opts.env ?? process.env });
  if (opts.file) {
    if (fs.existsSync(opts.file)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(fs.readFileSync(opts.file, 'utf8'));
      } catch (err) {
        throw new ConfigError(`config ${opts.file}: not valid JSON: ${(err as Error).message}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config ${opts.file}: must be a JSON object`);
      cfg.load(parsed as Partial<MaskwatchConfig>);
    } else if (opts.fileRequired) {
      throw new ConfigError(`config ${opts.file}: no such file`);
    }
  }
  for (const [key, value] of Object.entries(opts.overrides ?? {})) {
    if (!cfg.has(key as never)) throw new ConfigError(`config: unknown key '${key}'`);
    cfg.set(key as never, value as never);
  }
  try {
    cfg.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(describeValidation((err as Error).message));
  }
  const config = cfg.getProperties();
  registerSecret(config.mqtt.password);
  return { config, source: cfg };
}

/** convict reports each problem on its own line; make each name key, value and what is allowed. */
function describeValidation(message: string): string {
  return message
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const unknown = /^configuration param '(.+)' not declared in the schema$/.exec(line);
      if (unknown) return `config: unknown key '${unknown[1]}' (see config/example.json for the keys)`;
      const bad = /^(.+?): (.+): value was (.+)$/.exec(line);
      if (bad) return `config: ${bad[1]} = ${bad[3]}: ${bad[2]}`;
      return `config: ${line}`;
    })
    .join('\n');
}

/** The config as JSON with secrets replaced by "[Sensitive]". */
export function printableConfig(source: convict.Config<MaskwatchConfig>): string {
  return JSON.stringify(JSON.parse(source.toString()), null, 2);
}
