/**
 * bin/maskwatch.js picks what to run: dist/ when it is up to date with src/, else src/ through tsx;
 * without tsx (a production install) dist/ as it is, with one warning; with neither, one error line.
 * Each case is a small tree of its own with the real bin/maskwatch.js and the real tsx.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers/cli.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bin-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

function tree(name: string, parts: { src?: boolean; dist?: boolean; tsx?: boolean }): string {
  const root = path.join(work, name);
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'bin/maskwatch.js'), path.join(root, 'bin/maskwatch.js'));
  fs.writeFileSync(path.join(root, 'package.json'), '{"type": "module"}\n');
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  if (parts.src) {
    write('src/core/x.ts', 'export const from: string = "src";\n');
    write('src/cli/main.ts', 'import { from } from "../core/x.js";\nconsole.log(from);\n');
  }
  if (parts.dist) {
    write('dist/core/x.js', 'export const from = "dist";\n');
    write('dist/cli/main.js', 'import { from } from "../core/x.js";\nconsole.log(from);\n');
  }
  if (parts.tsx) {
    fs.mkdirSync(path.join(root, 'node_modules'));
    fs.symlinkSync(path.join(ROOT, 'node_modules/tsx'), path.join(root, 'node_modules/tsx'));
  }
  return root;
}

function run(root: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/maskwatch.js')], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

const age = (root: string, file: string, seconds: number) => {
  const t = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(path.join(root, file), t, t);
};

test('dist/ newer than every source: dist/ runs (MASKWATCH_FROM_SOURCE=1 forces the sources)', () => {
  const root = tree('current', { src: true, dist: true, tsx: true });
  for (const f of ['src/core/x.ts', 'src/cli/main.ts']) age(root, f, 60);
  assert.deepEqual(run(root), { code: 0, out: 'dist', err: '' });
  assert.equal(run(root, { MASKWATCH_FROM_SOURCE: '1' }).out, 'src');
});

test('one source edited after the build, or one not built at all: the sources run through tsx', () => {
  const root = tree('stale', { src: true, dist: true, tsx: true });
  age(root, 'src/cli/main.ts', 60);
  age(root, 'dist/core/x.js', 30);
  assert.equal(run(root).out, 'src', 'x.ts is newer than x.js');
  age(root, 'src/core/x.ts', 60);
  assert.equal(run(root).out, 'dist');
  fs.writeFileSync(path.join(root, 'src/core/new.ts'), 'export {};\n');
  age(root, 'src/core/new.ts', 60);
  assert.equal(run(root).out, 'src', 'new.ts has no dist/core/new.js');
});

test('a production install: dist/ without src/ or tsx runs; a stale dist/ without tsx runs with one warning; neither is one error', () => {
  assert.deepEqual(run(tree('prod', { dist: true })), { code: 0, out: 'dist', err: '' });
  const stale = tree('stale-prod', { src: true, dist: true });
  age(stale, 'dist/core/x.js', 60);
  age(stale, 'dist/cli/main.js', 60);
  const r = run(stale);
  assert.equal(r.out, 'dist');
  assert.match(r.err, /^maskwatch: dist\/ is older than src\/ and tsx is not installed: running dist\/ as it is \(npm run build updates it\)$/);
  const none = run(tree('empty', { src: true }));
  assert.equal(none.code, 1);
  assert.match(none.err, /^maskwatch: no dist\/ build and no tsx in .*empty: run `npm ci --include=dev && npm run build` there$/);
});
