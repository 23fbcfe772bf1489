import { schema } from './schema.js';

/** One key of the schema as convict reads it. */
export interface SchemaLeaf {
  doc: string;
  default: unknown;
  format: unknown;
  env?: string;
  sensitive?: boolean;
}

export function isSchemaLeaf(node: unknown): node is SchemaLeaf {
  return typeof node === 'object' && node !== null && 'doc' in node && 'default' in node;
}

/** Every key of a schema node as [dotted key, leaf], in schema order. */
export function schemaLeaves(node: Record<string, unknown> = schema, prefix = ''): Array<[string, SchemaLeaf]> {
  const out: Array<[string, SchemaLeaf]> = [];
  for (const [k, v] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isSchemaLeaf(v)) out.push([key, v]);
    else out.push(...schemaLeaves(v as Record<string, unknown>, key));
  }
  return out;
}

export const LEAVES: ReadonlyMap<string, SchemaLeaf> = new Map(schemaLeaves());

/** Group keys (camera, mqtt, …) as well as leaves: a misspelt group gets a suggestion too. */
const ALL_KEYS: readonly string[] = [...new Set([...LEAVES.keys()].flatMap((k) => k.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))))];

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The schema key an unknown key was most likely meant to be, or null. */
export function suggestKey(key: string): string | null {
  const lower = key.toLowerCase();
  const sameButCase = ALL_KEYS.find((k) => k.toLowerCase() === lower);
  if (sameButCase) return sameButCase;
  const last = lower.split('.').at(-1)!;
  // the right name under the wrong group: camera.activeLow → signals.activeLow
  const elsewhere = [...LEAVES.keys()].filter((k) => k.split('.').at(-1)!.toLowerCase() === last);
  if (elsewhere.length === 1) return elsewhere[0];
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of ALL_KEYS) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(last.length / 3)) ? best : null;
}

/** " (did you mean 'x'?)" or a pointer to the list of keys. */
export function didYouMean(key: string): string {
  const suggestion = suggestKey(key);
  return suggestion ? ` (did you mean '${suggestion}'?)` : ' (docs/CONFIG.md lists the keys)';
}
