import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: bundled models live under <root>/models, the demo clip under <root>/assets. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const PACKAGE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
