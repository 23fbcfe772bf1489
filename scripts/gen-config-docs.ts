/** Writes config/example.json (every key with its default) and docs/CONFIG.md from the one schema. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaLeaves, type SchemaLeaf } from '../src/config/keys.js';
import { writeFileAtomic } from '../src/core/files.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function exampleValue(key: string, leaf: SchemaLeaf): unknown {
  if (key === 'deviceId') return 'shop-door-1';
  if (key === 'stateDir') return '/var/lib/maskwatch';
  return leaf.default;
}

export function buildExample(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, leaf] of schemaLeaves()) {
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
  const rows = schemaLeaves().map(
    ([key, l]) => `| \`${key}\` | ${formatName(l.format)} | \`${l.sensitive ? '(secret)' : JSON.stringify(l.default)}\` | ${l.env ? `\`${l.env}\`` : ''} | ${l.doc.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# Configuration',
    '',
    'Generated from `src/config/schema.ts` by `npm run config:docs`; `config/example.json` holds every key with its default.',
    '',
    'Order of precedence: flags > environment > config file (`/etc/maskwatch/config.json` or `--config`) > defaults.',
    '`maskwatch config check` loads exactly as `maskwatch run` does (it takes the same flags) and says which sources it read;',
    '`maskwatch config print` shows the effective config with secrets redacted (also a password inside `mqtt.url`).',
    '',
    'Validation is strict, and every problem is one line naming the key, the value, where it came from',
    '(the file, the environment variable or the flag) and what is allowed:',
    '',
    '- A config file is nested JSON, `{"signals": {"activeLow": true}}`. A dotted key such as `"signals.activeLow"` is',
    '  rejected with the nested form shown; an unknown key gets a "did you mean"; broken JSON gives its line and column.',
    '- Values in a file must have their JSON type: `true`/`false` for a bool (`"no"` or `"0"` is an error), numbers unquoted.',
    '- Environment variables and flags are text: a bool takes `true`, `false`, `1` or `0`; an integer takes digits only.',
    '- Rules between keys: the four GPIO lines differ; `camera.retryInitialMs` ≤ `camera.retryMaxMs`; quiet hours need',
    '  both ends; `mqtt.certFile` needs `mqtt.keyFile`; one password only (`mqtt.password`, `mqtt.passwordFile` or in',
    '  `mqtt.url`); the model card in `classifier.modelDir` names a file for `classifier.precision`.',
    '- Files and folders (`classifier.modelDir`, `mqtt.*File` when set, a `file:` camera source) must exist;',
    '  a relative path is taken from the working directory (`/opt/maskwatch` for the service); a relative',
    '  `classifier.modelDir` not found there is taken from the maskwatch folder (the bundled models).',
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
