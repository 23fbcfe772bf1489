/**
 * The import graph of src/, read from the code: the layering test (test/architecture.test.ts) checks it and
 * scripts/draw-architecture.ts draws it (docs/architecture.png). The layers are written down in docs/ARCHITECTURE.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/** Folder → layer: an import may point to the same or a lower layer only. */
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

export interface ImportEdge {
  /** Paths relative to src/, .ts. */
  from: string;
  to: string;
  dynamic: boolean;
  typeOnly: boolean;
  /** The module name for a package import (`sharp`, `@tensorflow/tfjs`), else null. */
  pkg: string | null;
}

export function sourceFiles(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const STATIC = /(?:^|\n)\s*(import|export)(\s+type)?\s[^'";]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"`]([^'"`]+)['"`]\s*\)/g;

export function importEdges(): ImportEdge[] {
  const out: ImportEdge[] = [];
  for (const file of sourceFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    const from = path.relative(SRC, file);
    const add = (spec: string, dynamic: boolean, typeOnly: boolean) => {
      if (spec.startsWith('.')) out.push({ from, to: path.relative(SRC, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts'), dynamic, typeOnly, pkg: null });
      else out.push({ from, to: spec, dynamic, typeOnly, pkg: spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]! });
    };
    for (const m of text.matchAll(STATIC)) add(m[3] ?? m[4]!, false, !!m[2]);
    for (const m of text.matchAll(DYNAMIC)) add(m[1]!, true, false);
  }
  return out;
}

export const topFolder = (file: string) => file.split(path.sep)[0]!;
