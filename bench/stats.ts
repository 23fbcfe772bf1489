/** Shared by every bench section (kept out of bench/main.ts so sections never import the runner). */
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
