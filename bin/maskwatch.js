#!/usr/bin/env node
// Runs the compiled daemon in dist/ (`npm run build`) when it is up to date with src/, else the
// TypeScript sources through tsx (a development checkout: no build step needed).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const distMain = path.join(root, 'dist/cli/main.js');

/** True when every src/**.ts has a dist/**.js at least as new (no src/ at all counts as up to date). */
function distIsCurrent() {
  if (!fs.existsSync(distMain)) return false;
  const src = path.join(root, 'src');
  let entries;
  try {
    entries = fs.readdirSync(src, { recursive: true, withFileTypes: true });
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    const out = path.join(root, 'dist', path.relative(src, file)).replace(/\.ts$/, '.js');
    let outStat;
    try {
      outStat = fs.statSync(out);
    } catch {
      return false;
    }
    if (outStat.mtimeMs < fs.statSync(file).mtimeMs) return false;
  }
  return true;
}

async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return null;
  }
}

if (process.env.MASKWATCH_FROM_SOURCE !== '1' && distIsCurrent()) {
  await import(pathToFileURL(distMain).href);
} else {
  const tsx = await loadTsx();
  if (tsx) {
    tsx.register();
    await import(pathToFileURL(path.join(root, 'src/cli/main.ts')).href);
  } else if (fs.existsSync(distMain)) {
    process.stderr.write(`maskwatch: dist/ is older than src/ and tsx is not installed: running dist/ as it is (npm run build updates it)\n`);
    await import(pathToFileURL(distMain).href);
  } else {
    process.stderr.write(`maskwatch: no dist/ build and no tsx in ${root}: run \`npm ci --include=dev && npm run build\` there\n`);
    process.exit(1);
  }
}
