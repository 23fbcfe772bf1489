/**
 * `npm run bench`: every section measured in this one run, so ratios compare like with like.
 * Each bench/<area>.ts exports `run(): Promise<BenchRow[]>`. MASKWATCH_BENCH_MODEL=<model dir> times another
 * classifier than models/maskwatch-default (quantized, pipeline and idle sections).
 */
import os from 'node:os';

export type { BenchRow } from './stats.js';
export { quantile } from './stats.js';
import type { BenchRow } from './stats.js';
import { describeCpuInt8 } from '../src/vision/precision-choice.js';

const SECTIONS = ['crop', 'classifier', 'detector', 'quantized', 'pipeline', 'idle', 'backends'];
/** Run only when named (`npm run bench -- soak`): the soak takes 30 minutes. */
const ON_DEMAND = ['soak'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // Section names; an option (`--minutes 30`) and its value belong to the section that reads them.
  const only = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  const rows: BenchRow[] = [];
  console.log(`maskwatch bench — ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`CPU int8 features: ${describeCpuInt8()}`);
  for (const name of [...SECTIONS, ...ON_DEMAND]) {
    if (only.length ? !only.includes(name) : ON_DEMAND.includes(name)) continue;
    let mod: { run(): Promise<BenchRow[]> };
    try {
      mod = await import(`./${name}.js`);
    } catch (err) {
      console.log(`(section ${name} not available: ${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    const got = await mod.run();
    rows.push(...got);
    for (const r of got) console.log(formatRow(r));
  }
  console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

export function formatRow(r: BenchRow): string {
  const stat = r.median !== undefined ? `median ${r.median.toFixed(2)} ${r.unit}` + (r.p90 !== undefined ? `, p90 ${r.p90.toFixed(2)}` : '') + (r.p99 !== undefined ? `, p99 ${r.p99.toFixed(2)}` : '') : `${r.value?.toFixed(2)} ${r.unit}`;
  const target = r.target ? `  target ${r.target}: ${r.pass ? 'PASS' : 'MISS'}` : '';
  return `[${r.section}] ${r.name}: ${stat}${target}${r.note ? `  (${r.note})` : ''}`;
}

// Not awaited at top level: a section that imports this module must not wait on the run that imported it.
if (import.meta.url === `file://${process.argv[1]}`) main().catch((err) => {
  console.error(err);
  process.exit(1);
});
