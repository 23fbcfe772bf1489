/**
 * Text from the network (topic names, payload keys and values) on its way into a log line: quoted, control characters
 * and non-ASCII escaped (so a newline cannot start a forged line), and cut to a length.
 */
export function quoteUntrusted(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : String(value);
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
