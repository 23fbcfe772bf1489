/** Writes config/example.json (every key with its default) and docs/CONFIG.md from the one schema. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schema } from '../src/config/schema.js';
import { writeFileAtomic } from '../src/core/files.js';

interface Leaf {
  doc: string;
  default: unknown;
  format: unknown;
  env?: string;
  sensitive?: boolean;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function isLeaf(v: unknown): v is Leaf {
  return typeof v === 'object' && v !== null && 'doc' in v && 'default' in v;
}

export function walk(node: Record<string, unknown>, prefix = ''): Array<[string, Leaf]> {
  const out: Array<[string, Leaf]> = [];
  for (const [k, v] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isLeaf(v)) out.push([key, v]);
    else out.push(...walk(v as Record<string, unknown>, key));
  }
  return out;
}

function exampleValue(key: string, leaf: Leaf): unknown {
  if (key === 'deviceId') return 'shop-door-1';
  if (key === 'stateDir') return '/var/lib/maskwatch';
  return leaf.default;
}

export function buildExample(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, leaf] of walk(schema as unknown as Record<string, unknown>)) {
    const parts = key.split('.');
    let obj = out;
    for (const p of parts.slice(0, -1)) obj = (obj[p] ??= {}) as Record<string, unknown>;
    obj[parts.at(-1)!] = exampleValue(key, leaf);
  }
  return out;
}

function formatName(f: unknown): string {
  if (Array.isArray(f)) return f.map((x) => JSON.stringify(x)).join(' \\| ');
  if (typeof f === 'function') return f.name.toLowerCase();
  return String(f);
}

function buildDoc(): string {
  const rows = walk(schema as unknown as Record<string, unknown>).map(
    ([key, l]) => `| \`${key}\` | ${formatName(l.format)} | \`${l.sensitive ? '(secret)' : JSON.stringify(l.default)}\` | ${l.env ? `\`${l.env}\`` : ''} | ${l.doc.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# Configuration',
    '',
    'Generated from `src/config/schema.ts` by `npm run config:docs`; `config/example.json` holds every key with its default.',
    'Order of precedence: flags > environment > config file (`/etc/maskwatch/config.json` or `--config`) > defaults.',
    'Validation is strict: an unknown key or a bad value stops the daemon with one line naming the key, the value and what is allowed.',
    '`maskwatch config check` validates a file; `maskwatch config print` shows the effective config with secrets redacted.',
    '',
    '| key | format | default | environment | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileAtomic(path.join(root, 'config/example.json'), JSON.stringify(buildExample(), null, 2) + '\n');
  writeFileAtomic(path.join(root, 'docs/CONFIG.md'), buildDoc());
  console.log('wrote config/example.json and docs/CONFIG.md');
}
