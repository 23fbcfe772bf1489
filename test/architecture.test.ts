/**
 * The layering of src/ (docs/ARCHITECTURE.md): every import points down or sideways, never up; folders import each other
 * without cycles; no import() of the project's own modules below src/cli/ (where it only delays loading a command);
 * every file under 400 lines; the daemon's own modules never load the training-only TF.js.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

const SRC = path.resolve('src');
export const LAYERS: Record<string, number> = {
  core: 0,
  config: 1,
  onnx: 1,
  vision: 2,
  decision: 2,
  source: 2,
  signals: 2,
  events: 2,
  system: 2,
  workflows: 3,
  daemon: 4,
  cli: 5,
};

interface Edge {
  from: string;
  to: string;
  dynamic: boolean;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"`]([^'"`]+)['"`]\s*\)/g;

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    const add = (spec: string, dynamic: boolean) => {
      if (!spec.startsWith('.')) return;
      out.push({ from: path.relative(SRC, file), to: path.relative(SRC, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts'), dynamic });
    };
    for (const m of text.matchAll(IMPORT)) add(m[1] ?? m[2]!, false);
    for (const m of text.matchAll(DYNAMIC)) add(m[1]!, true);
  }
  return out;
}

const top = (file: string) => file.split(path.sep)[0]!;

test('every folder of src/ has a layer, and imports never point up', () => {
  const all = edges();
  assert.ok(all.length > 100, `found ${all.length} imports`);
  for (const dir of fs.readdirSync(SRC)) assert.ok(dir in LAYERS, `src/${dir} has no layer in docs/ARCHITECTURE.md and this test`);
  const up = all.filter((e) => !e.to.startsWith('..') && LAYERS[top(e.to)]! > LAYERS[top(e.from)]!);
  assert.deepEqual(up.map((e) => `${e.from} → ${e.to}`), []);
});

test("no import() of the project's own modules below src/cli/", () => {
  const hidden = edges().filter((e) => e.dynamic && top(e.from) !== 'cli');
  assert.deepEqual(hidden.map((e) => `${e.from} → ${e.to}`), []);
});

test('folders import each other without cycles', () => {
  const graph = new Map<string, Set<string>>();
  for (const e of edges()) {
    const a = top(e.from);
    const b = top(e.to);
    if (a !== b && !e.to.startsWith('..')) graph.set(a, (graph.get(a) ?? new Set()).add(b));
  }
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]) => {
    for (const next of graph.get(node) ?? []) {
      if (trail.includes(next)) cycles.push([...trail.slice(trail.indexOf(next)), next].join(' → '));
      else visit(next, [...trail, next]);
    }
  };
  for (const node of graph.keys()) visit(node, [node]);
  assert.deepEqual([...new Set(cycles)], []);
});

test('every source file is under 400 lines', () => {
  const long = sourceFiles(SRC)
    .map((f) => ({ f: path.relative(SRC, f), n: fs.readFileSync(f, 'utf8').split('\n').length }))
    .filter((x) => x.n > 400);
  assert.deepEqual(long.map((x) => `${x.f} (${x.n})`), []);
});

test('the daemon, predict and classify never reach the training-only TF.js through their imports', () => {
  const byFile = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const rel = path.relative(SRC, file);
    const text = fs.readFileSync(file, 'utf8');
    const specs = [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]!).filter((s) => !/^import\s+type/.test(s));
    byFile.set(rel, specs);
  }
  const typeOnly = (file: string, spec: string) => new RegExp(`import\\s+type\\s[^;]*from\\s+['"]${spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"]`).test(fs.readFileSync(path.join(SRC, file), 'utf8'));
  const reach = (start: string): string[] => {
    const seen = new Set<string>();
    const tf: string[] = [];
    const stack = [start];
    while (stack.length) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of byFile.get(file) ?? []) {
        if (typeOnly(file, spec)) continue;
        if (spec.startsWith('@tensorflow/')) tf.push(`${file} imports ${spec}`);
        else if (spec.startsWith('.')) stack.push(path.relative(SRC, path.resolve(SRC, path.dirname(file), spec)).replace(/\.js$/, '.ts'));
      }
    }
    return tf;
  };
  for (const entry of ['daemon/factory.ts', 'cli/predict.ts', 'cli/classify.ts', 'cli/run.ts']) assert.deepEqual(reach(entry), [], entry);
});
