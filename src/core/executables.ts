import fs from 'node:fs';
import path from 'node:path';

/** The path of an executable: the command itself when it has a slash, else the first match on PATH; null if none. */
export function findExecutable(command: string, envPath = process.env.PATH ?? ''): string | null {
  const candidates = command.includes('/') ? [command] : envPath.split(path.delimiter).filter(Boolean).map((d) => path.join(d, command));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return null;
}
