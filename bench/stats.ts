/** Shared by every bench section (kept out of bench/main.ts so sections never import the runner). */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../src/core/paths.js';

export interface BenchRow {
  section: string;
  name: string;
  median?: number;
  p90?: number;
  p99?: number;
  value?: number;
  unit: string;
  target?: string;
  pass?: boolean;
  note?: string;
}

export function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}


export interface Timing {
  median: number;
  p90: number;
  min: number;
  runs: number;
  /** CPU time of this process per call: steadier than wall time on a busy machine. */
  cpuMs: number;
}

/** Calls `fn` `warmup` times, then `runs` times measured: wall-clock quantiles and CPU time per call. */
export async function timeCalls(fn: () => unknown, runs: number, warmup: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  return { median: quantile(times, 0.5), p90: quantile(times, 0.9), min: Math.min(...times), runs, cpuMs: (cpu.user + cpu.system) / 1000 / runs };
}

/** Within this share of each other, two medians are a tie: either choice is right. */
const TIE = 0.05;

/**
 * The check that `precision: auto` never picks the slower file: its choice against this bench's own medians of the
 * same two files (measured separately, more runs).
 */
export function autoChoiceRow(section: string, name: string, chose: 'float' | 'int8', reason: string, bench: { float: number; int8: number }, int8Features: string): BenchRow {
  const faster = bench.int8 < bench.float ? 'int8' : 'float';
  const tie = Math.abs(bench.int8 - bench.float) <= TIE * Math.min(bench.int8, bench.float);
  return {
    section,
    name,
    value: bench[chose],
    unit: `ms (${chose})`,
    target: 'auto runs the faster file',
    pass: chose === faster || tie,
    note: `bench medians int8 ${bench.int8.toFixed(2)}, float ${bench.float.toFixed(2)} ms → ${tie ? 'a tie (within 5 %)' : `${faster} is faster`}; auto said: ${reason}; int8: ${int8Features}`,
  };
}

/** The systemd unit's MALLOC_ARENA_MAX (glibc's arenas: the resident memory a threaded process keeps), to run the daemon as it runs. */
export function unitMallocEnv(): Record<string, string> {
  const m = /^Environment=MALLOC_ARENA_MAX=(\d+)$/m.exec(fs.readFileSync(path.join(REPO_ROOT, 'systemd/maskwatch.service'), 'utf8'));
  return m ? { MALLOC_ARENA_MAX: m[1]! } : {};
}
