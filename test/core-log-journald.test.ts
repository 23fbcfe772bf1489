/**
 * Log lines under systemd: a child process whose stderr is a file that JOURNAL_STREAM names (as systemd
 * hands a service its journal stream) writes `<N>` syslog priorities and no timestamp; anywhere else the
 * lines keep their ISO timestamp.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-log-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const SCRIPT = `import { createLogger, registerSecret } from './src/core/log.ts';
registerSecret('hunter2');
const log = createLogger('door');
log.error('camera gone');
log.warn('retrying, password hunter2');
log.info('streaming');
log.debug('frame 1');`;

/** Runs SCRIPT with stderr going to a file; `journalStream` gets that file's dev:ino when 'self'. */
function logLines(name: string, env: NodeJS.ProcessEnv, journalStream?: 'self' | 'other'): string[] {
  const file = path.join(dir, `${name}.log`);
  const fd = fs.openSync(file, 'w');
  const other = fs.statSync(ROOT, { bigint: true });
  const self = fs.fstatSync(fd, { bigint: true });
  const stream = journalStream === 'self' ? `${self.dev}:${self.ino}` : journalStream === 'other' ? `${other.dev}:${other.ino}` : undefined;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['JOURNAL_STREAM', 'INVOCATION_ID'].includes(k)));
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
    cwd: ROOT,
    env: { ...clean, MASKWATCH_LOG_LEVEL: 'debug', ...(stream ? { JOURNAL_STREAM: stream } : {}), ...env },
    stdio: ['ignore', 'ignore', fd],
  });
  fs.closeSync(fd);
  const text = fs.readFileSync(file, 'utf8');
  assert.equal(r.status, 0, text);
  return text.split('\n').filter(Boolean);
}

test('stderr that is the journal stream: <3> <4> <6> <7> prefixes, no timestamp, secrets still hidden', () => {
  assert.deepEqual(logLines('journal', {}, 'self'), [
    '<3>ERROR [door] camera gone',
    '<4>WARN  [door] retrying, password ***',
    '<6>INFO  [door] streaming',
    '<7>DEBUG [door] frame 1',
  ]);
});

test('a service without JOURNAL_STREAM (INVOCATION_ID only) gets the prefixes too', () => {
  const lines = logLines('invocation', { INVOCATION_ID: '0123456789abcdef0123456789abcdef' });
  assert.deepEqual(lines.map((l) => l.slice(0, 3)), ['<3>', '<4>', '<6>', '<7>']);
});

test('a JOURNAL_STREAM inherited by a shell whose stderr is elsewhere, or none at all: timestamped lines as before', () => {
  for (const lines of [logLines('inherited', {}, 'other'), logLines('terminal', {})]) {
    assert.equal(lines.length, 4);
    for (const [i, level] of ['ERROR', 'WARN ', 'INFO ', 'DEBUG'].entries()) {
      assert.match(lines[i]!, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ${level} \\[door\\] `));
    }
  }
});

test('every log line is one line: a newline or control character in a message cannot start a forged line', async () => {
  const { createLogger, setLogSink } = await import('../src/core/log.js');
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    createLogger('commands').warn('unknown key x\n2026-12-01T00:00:00.000Z ERROR [pipeline] FORGED\r\u001b[2J');
  } finally {
    setLogSink(previous);
  }
  assert.equal(lines.length, 1);
  assert.ok(!/[\n\r\u001b]/.test(lines[0]!), JSON.stringify(lines[0]));
  assert.match(lines[0]!, /unknown key x\\n2026-12-01T00:00:00\.000Z ERROR \[pipeline\] FORGED\\r\\u001b\[2J$/);
});
