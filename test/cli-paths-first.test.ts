/**
 * `train` and `eval` run for minutes: a bad path must fail at once, naming it, not at the end of the run.
 * Real CLI child processes; each must answer well before any real work could have finished.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { runCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-paths-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const aFile = path.join(tmp, 'a-file');
fs.writeFileSync(aFile, 'x');

test('train: a missing data root, a missing base and an output under a file, all named in one go, before any work', { timeout: 60_000 }, async () => {
  const started = Date.now();
  const r = await runCli(['train', '--data', path.join(tmp, 'no-data'), '--base', path.join(tmp, 'no-base'), '--out', path.join(aFile, 'model'), '--no-progress'], { timeoutMs: 30_000 });
  assert.notEqual(r.code, 0);
  assert.ok(Date.now() - started < 30_000);
  assert.equal(r.stdout, '');
  assert.deepEqual(r.stderr.trim().split('\n'), [
    `maskwatch: --out ${aFile}/model cannot be made: ${aFile} is a file`,
    `--data ${tmp}/no-data: no such folder`,
    `--base ${tmp}/no-base: no such folder`,
  ]);
  assert.deepEqual(fs.readdirSync(tmp), ['a-file'], 'nothing written');
});

test('eval: an output file on /proc, or one that is a folder, fails before the run', { timeout: 60_000 }, async () => {
  const proc = await runCli(['eval', '--split', 'test', '--json', '/proc/maskwatch/door.json'], { timeoutMs: 30_000 });
  assert.equal(proc.code, 2, proc.stderr);
  assert.equal(proc.stderr, 'maskwatch eval: --json /proc/maskwatch: on /proc, where nothing can be kept\n');
  const folder = await runCli(['eval', '--split', 'test', '--mistakes', tmp], { timeoutMs: 30_000 });
  assert.equal(folder.code, 2, folder.stderr);
  assert.equal(folder.stderr, `maskwatch eval: --mistakes ${tmp}: is a folder, not a file\n`);
});
