/** Parsing and checking of MQTT command requests (`cmd/<name>`), before any handler runs. */
import type { CommandName } from '../core/seams.js';
import { COMMAND_NAMES } from './topics.js';
import { quoteUntrusted } from './untrusted.js';

export type ParsedCommand =
  | { ok: true; name: CommandName; payload: Record<string, unknown>; id?: string | number }
  | { ok: false; message: string; id?: string | number };

/** The longest mute a request may ask for, in minutes or in seconds. */
const MUTE_MAX_S = 7 * 24 * 3600;

const ALLOWED_KEYS: Record<CommandName, readonly string[]> = {
  'lamp-test': [],
  mute: ['minutes', 'seconds'],
  'reload-model': [],
};

/** The largest request payload read: a command takes a few keys; anything bigger is refused before it is parsed. */
export const COMMAND_PAYLOAD_MAX = 4096;

/** A request is a JSON object (the router ignores empty payloads); `id` is echoed in the reply. */
export function parseCommand(name: string, raw: Buffer | string): ParsedCommand {
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (bytes > COMMAND_PAYLOAD_MAX) return { ok: false, message: `payload too large (${bytes} bytes; a command takes at most ${COMMAND_PAYLOAD_MAX})` };
  const text = raw.toString().trim();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, message: `payload is not valid JSON (send a JSON object, e.g. {})` };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'payload must be a JSON object' };
  }
  const payload = { ...(body as Record<string, unknown>) };
  let id: string | number | undefined;
  if ('id' in payload) {
    if (typeof payload.id !== 'string' && typeof payload.id !== 'number') return { ok: false, message: `id must be a string or a number` };
    id = payload.id;
    delete payload.id;
  }
  const withId = <T extends object>(r: T) => (id === undefined ? r : { ...r, id });
  if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
    return withId({ ok: false as const, message: `unknown command ${quoteUntrusted(name)} (known: ${COMMAND_NAMES.join(', ')})` });
  }
  const command = name as CommandName;
  const unknown = Object.keys(payload).filter((k) => !ALLOWED_KEYS[command].includes(k));
  if (unknown.length) {
    return withId({ ok: false as const, message: `unknown key(s) ${unknown.slice(0, 5).map((k) => quoteUntrusted(k, 40)).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}` });
  }
  if (command === 'mute') {
    const keys = Object.keys(payload);
    if (keys.length > 1) return withId({ ok: false as const, message: 'give either minutes or seconds, not both' });
    const key = keys[0] as 'minutes' | 'seconds' | undefined;
    const value = key ? payload[key] : 0;
    const max = key === 'minutes' ? MUTE_MAX_S / 60 : MUTE_MAX_S;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
      return withId({ ok: false as const, message: `${key} must be a number from 0 to ${max} (7 days)` });
    }
  }
  return withId({ ok: true as const, name: command, payload });
}
