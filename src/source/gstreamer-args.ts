/**
 * Splits a gst-launch pipeline description into argv tokens, the way a POSIX shell
 * would for the simple cases people write: whitespace separates, '…' is literal,
 * "…" allows \" and \\, a backslash outside quotes escapes the next character.
 */
export function tokenizePipeline(pipeline: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < pipeline.length; i++) {
    const c = pipeline[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else current += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && (pipeline[i + 1] === '"' || pipeline[i + 1] === '\\')) current += pipeline[++i];
      else current += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inToken = true;
    } else if (c === '\\' && i + 1 < pipeline.length) {
      current += pipeline[++i];
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (quote) throw new Error(`gstreamer pipeline: unterminated ${quote} quote`);
  if (inToken) tokens.push(current);
  return tokens;
}

/** gst-launch-1.0 arguments for a user pipeline: quiet, ending in fdsink to stdout. */
export function gstreamerArgs(pipeline: string): string[] {
  const tokens = tokenizePipeline(pipeline);
  if (tokens.length === 0) throw new Error('gstreamer pipeline: empty');
  if (tokens[0] === '!' || tokens[tokens.length - 1] === '!') throw new Error('gstreamer pipeline: must not start or end with "!"');
  const lastElement = tokens.lastIndexOf('!') + 1;
  const endsInFdsink = tokens[lastElement] === 'fdsink';
  return ['-q', ...tokens, ...(endsInFdsink ? [] : ['!', 'fdsink', 'fd=1'])];
}
