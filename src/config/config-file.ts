import fs from 'node:fs';
import { parse as locateJson, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { schema } from './schema.js';
import { didYouMean, isSchemaLeaf, LEAVES } from './keys.js';

export class ConfigError extends Error {}

const JSON_ERRORS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'not a valid number',
  PropertyNameExpected: 'a key in double quotes expected (a trailing comma?)',
  ValueExpected: 'a value expected',
  ColonExpected: '":" expected',
  CommaExpected: '"," expected',
  CloseBraceExpected: '"}" expected',
  CloseBracketExpected: '"]" expected',
  EndOfFileExpected: 'end of file expected (text after the closing "}")',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'comments are not allowed in JSON',
  UnexpectedEndOfString: 'string not closed',
  UnexpectedEndOfNumber: 'number not finished',
  InvalidUnicode: 'bad \\u escape',
  InvalidEscapeCharacter: 'bad escape character',
  InvalidCharacter: 'control character (such as a tab or newline) inside a string',
};

/** "line L, column C" (1-based) of an offset into text. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/** Parses JSON strictly; a mistake is one line with its line and column. */
export function parseConfigJson(text: string, file: string): unknown {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') throw new ConfigError(`config ${file}: the file is empty (write {} for all defaults)`);
  try {
    return JSON.parse(body);
  } catch (err) {
    const errors: ParseError[] = [];
    locateJson(body, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
    const first = errors[0];
    if (!first) throw new ConfigError(`config ${file}: not valid JSON: ${(err as Error).message}`);
    const { line, column } = lineAndColumn(body, first.offset);
    const code = printParseErrorCode(first.error);
    const near = withoutSecrets(body.split('\n')[line - 1].trim()).slice(0, 60);
    throw new ConfigError(`config ${file}:${line}:${column}: not valid JSON at line ${line}, column ${column}: ${JSON_ERRORS[code] ?? code} (line ${line}: ${near})`);
  }
}

const SECRET_NAMES = [...LEAVES].filter(([, leaf]) => leaf.sensitive).map(([key]) => key.split('.').at(-1)!);

/** A line of a broken file as it may be shown: a secret key's value, or anything after a colon on a line with an @ (a URL's password), left out. */
function withoutSecrets(line: string): string {
  if (!line.includes('@') && !SECRET_NAMES.some((name) => line.includes(name))) return line;
  const colon = line.indexOf(':');
  return colon < 0 ? '…' : `${line.slice(0, colon + 1)} …`;
}

/** What a misplaced value is, for a problem line: its type, never its text (it may hold a secret). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (keys ${Object.keys(value).slice(0, 5).map((k) => JSON.stringify(k)).join(', ') || 'none'})`;
  if (typeof value === 'string') return 'a string';
  return JSON.stringify(value);
}

/** The file's object, or null when there is no file and none was asked for. */
export function readConfigFile(file: string, required: boolean): Record<string, unknown> | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return null;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'cannot be read by this user (permission denied)' : code === 'EISDIR' ? 'is a folder, not a file' : (err as Error).message;
    throw new ConfigError(`config ${file}: ${why}`);
  }
  const parsed = parseConfigJson(text, file);
  if (!isPlainObject(parsed)) throw new ConfigError(`config ${file}: must be a JSON object ({...}), not ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}`);
  return parsed;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** {"signals": {"activeLow": true}} for signals.activeLow = true. */
export function nestedForm(key: string, value: unknown): string {
  const shown = LEAVES.get(key)?.sensitive ? '"…"' : JSON.stringify(value);
  const parts = key.split('.');
  return parts.reduceRight((inner, part) => `{${JSON.stringify(part)}: ${inner}}`, shown);
}

export interface FileKeys {
  /** The file's keys that the schema has, nested as the schema is. */
  clean: Record<string, unknown>;
  /** Dotted names of the leaves the file sets. */
  leafKeys: string[];
  problems: string[];
}

/**
 * Checks a file's keys against the schema: unknown keys (with a suggestion), dotted keys
 * ("signals.activeLow", rejected with the nested form shown), groups that are not objects.
 */
export function checkFileKeys(obj: Record<string, unknown>, file: string): FileKeys {
  const result: FileKeys = { clean: {}, leafKeys: [], problems: [] };
  result.clean = walkGroup(obj, schema, '', file, result);
  return result;
}

function walkGroup(obj: Record<string, unknown>, node: object, prefix: string, file: string, result: FileKeys): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const child: unknown = Object.hasOwn(node, k) ? (node as Record<string, unknown>)[k] : undefined;
    if (child === undefined) {
      if (k.includes('.') && LEAVES.has(key)) {
        result.problems.push(`config: "${key}" in ${file} is a dotted key, which a config file does not take; nest it: ${nestedForm(key, value)}`);
      } else {
        result.problems.push(`config: unknown key '${key}' in ${file}${didYouMean(key)}`);
      }
    } else if (isSchemaLeaf(child)) {
      if (isPlainObject(value)) {
        result.problems.push(`config: ${key} in ${file} takes a value, not ${kindOf(value)}`);
        continue;
      }
      out[k] = value;
      result.leafKeys.push(key);
    } else if (!isPlainObject(value)) {
      const example = Object.keys(child as object)[0];
      result.problems.push(`config: ${key} in ${file} must be an object of keys such as {"${example}": …}, not ${kindOf(value)}`);
    } else {
      out[k] = walkGroup(value, child as object, key, file, result);
    }
  }
  return out;
}
