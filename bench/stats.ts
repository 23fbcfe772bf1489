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

