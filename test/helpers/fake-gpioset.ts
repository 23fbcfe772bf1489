import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a fake `gpioset` (plus gpiodetect/gpiofind) into `dir`: a small node script that
 * records each run's argv and every stdin line as JSON lines in `<dir>/gpioset.log`.
 * It prints `version` for --version, holds until SIGTERM in v1 --mode=signal / v2 hold
 * mode, reads `set …` commands with -i, and exits at once for one-shot runs (v1 without
 * --mode, v2 with -t 0).
 */
export function writeFakeGpioset(dir: string, version: string, chips = 'gpiochip0 [pinctrl-rp1] (54 lines)\ngpiochip1 [rp1-extra] (8 lines)\n'): { gpioset: string; log: string; entries(): Array<Record<string, unknown>> } {
  fs.mkdirSync(dir, { recursive: true });
  const log = path.join(dir, 'gpioset.log');
  fs.writeFileSync(log, '');
  const script = `#!${process.execPath}
const fs = require('node:fs');
const log = ${JSON.stringify(log)};
const rec = (o) => fs.appendFileSync(log, JSON.stringify({ pid: process.pid, ...o }) + '\\n');
const args = process.argv.slice(2);
if (args.includes('--version') || args.includes('-v')) { console.log('gpioset (libgpiod) ${version}'); process.exit(0); }
rec({ argv: args });
const v1 = ${JSON.stringify(version)}.startsWith('v1');
const hold = v1 ? args.includes('--mode=signal') : !(args.includes('-t') && args[args.indexOf('-t') + 1] === '0');
if (!hold) { rec({ exit: 'oneshot' }); process.exit(0); }
process.on('SIGTERM', () => { rec({ exit: 'SIGTERM' }); process.exit(0); });
if (args.includes('-i')) {
  let buf = '';
  process.stdin.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      rec({ stdin: line });
      if (line === 'exit') { rec({ exit: 'command' }); process.exit(0); }
    }
  });
  process.stdin.on('end', () => { rec({ exit: 'eof' }); process.exit(0); });
} else {
  setInterval(() => {}, 1 << 30);
}
`;
  const gpioset = path.join(dir, 'gpioset');
  fs.writeFileSync(gpioset, script, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'gpiodetect'), `#!/bin/sh\nprintf '%s' '${chips.replace(/'/g, '')}'\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'gpiofind'), `#!/bin/sh\ncase "$1" in GPIO*) echo "gpiochip0 \${1#GPIO}";; *) exit 1;; esac\n`, { mode: 0o755 });
  return {
    gpioset,
    log,
    entries: () =>
      fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
