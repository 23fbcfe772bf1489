/**
 * The layering of src/ (docs/ARCHITECTURE.md): every import points down, never up or sideways; folders import each other
 * without cycles; no import() of the project's own modules below src/cli/ (where it only delays loading a command);
 * every file under 400 lines; the daemon's own modules never load the training-only TF.js.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { importEdges, LAYERS, SRC, sourceFiles, topFolder } from '../scripts/import-graph.js';

const own = () => importEdges().filter((e) => e.pkg === null && !e.to.startsWith('..'));

test('every folder of src/ has a layer, and imports never point up', () => {
  const all = own();
  assert.ok(all.length > 100, `found ${all.length} imports`);
  for (const dir of fs.readdirSync(SRC)) assert.ok(dir in LAYERS, `src/${dir} has no layer in docs/ARCHITECTURE.md and scripts/import-graph.ts`);
  const up = all.filter((e) => LAYERS[topFolder(e.to)]! > LAYERS[topFolder(e.from)]!);
  assert.deepEqual(up.map((e) => `${e.from} → ${e.to}`), []);
});

test('folders on the same layer do not import each other', () => {
  const sideways = own().filter((e) => topFolder(e.from) !== topFolder(e.to) && LAYERS[topFolder(e.to)] === LAYERS[topFolder(e.from)]);
  assert.deepEqual(sideways.map((e) => `${e.from} → ${e.to}`), []);
});

test("no import() of the project's own modules below src/cli/", () => {
  const hidden = own().filter((e) => e.dynamic && topFolder(e.from) !== 'cli');
  assert.deepEqual(hidden.map((e) => `${e.from} → ${e.to}`), []);
});

test('folders import each other without cycles', () => {
  const graph = new Map<string, Set<string>>();
  for (const e of own()) {
    const a = topFolder(e.from);
    const b = topFolder(e.to);
    if (a !== b) graph.set(a, (graph.get(a) ?? new Set()).add(b));
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
  const long = sourceFiles()
    .map((f) => ({ f: path.relative(SRC, f), n: fs.readFileSync(f, 'utf8').split('\n').length }))
    .filter((x) => x.n > 400);
  assert.deepEqual(long.map((x) => `${x.f} (${x.n})`), []);
});

test('the daemon, predict and classify never reach the training-only TF.js through their imports', () => {
  const byFile = new Map<string, typeof edges>();
  const edges = importEdges().filter((e) => !e.typeOnly && !e.dynamic);
  for (const e of edges) byFile.set(e.from, [...(byFile.get(e.from) ?? []), e]);
  const reach = (start: string): string[] => {
    const seen = new Set<string>();
    const tf: string[] = [];
    const stack = [start];
    while (stack.length) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const e of byFile.get(file) ?? []) {
        if (e.pkg?.startsWith('@tensorflow/')) tf.push(`${file} imports ${e.to}`);
        else if (e.pkg === null) stack.push(e.to);
      }
    }
    return tf;
  };
  for (const entry of ['daemon/factory.ts', 'cli/predict.ts', 'cli/classify.ts', 'cli/run.ts']) assert.deepEqual(reach(entry), [], entry);
});
