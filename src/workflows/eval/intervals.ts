/**
 * How far a figure measured on a few faces can be trusted: 95 % intervals for the door evaluation. A share (a recall)
 * gets the Wilson score interval, which stays inside 0..1 and is honest at 0/n and n/n, where the plain ±1.96·SE is
 * not. The macro-F1, which has no formula for its spread, gets a percentile bootstrap that resamples whole photos,
 * because faces in one photo share its light, camera and crowd and are not independent draws.
 * (A statistics package would do the first in 258 npm packages; both fit in this file.)
 */
import { createRng } from '../../core/rng.js';

export type Interval = [lo: number, hi: number];

/** z for a two-sided 95 % interval. */
const Z95 = 1.959964;

/** The Wilson score interval of k successes in n trials; [0, 1] when n is 0 (nothing is known). */
export function wilsonInterval(k: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return [0, 1];
  if (k < 0 || k > n) throw new Error(`wilsonInterval: ${k} successes in ${n} trials`);
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export interface BootstrapOptions {
  resamples: number;
  seed: number;
  /** Two-sided coverage, 0..1. */
  level: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { resamples: 2000, seed: 42, level: 0.95 };

/**
 * The percentile bootstrap interval of `stat` over `groups` (each group, e.g. one photo's faces, is drawn whole, with
 * replacement, as many groups as there are). Seeded: the same data give the same interval.
 */
export function bootstrapInterval<T>(groups: readonly T[][], stat: (items: T[]) => number, opts: BootstrapOptions = DEFAULT_BOOTSTRAP): Interval {
  if (!groups.length) return [0, 0];
  if (!(opts.resamples >= 1) || !(opts.level > 0 && opts.level < 1)) throw new Error(`bootstrapInterval: resamples ${opts.resamples}, level ${opts.level}`);
  const rng = createRng(opts.seed);
  const values = new Float64Array(opts.resamples);
  for (let r = 0; r < opts.resamples; r++) {
    const items: T[] = [];
    for (let g = 0; g < groups.length; g++) items.push(...groups[Math.floor(rng() * groups.length)]!);
    values[r] = stat(items);
  }
  values.sort();
  const tail = (1 - opts.level) / 2;
  return [quantile(values, tail), quantile(values, 1 - tail)];
}

/** Linear interpolation between order statistics of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  const at = q * (sorted.length - 1);
  const i = Math.floor(at);
  const next = sorted[Math.min(i + 1, sorted.length - 1)]!;
  return sorted[i]! + (next - sorted[i]!) * (at - i);
}

/** `0.19–0.81`: an interval as the reports print it. */
export function formatInterval([lo, hi]: Interval, digits = 2): string {
  return `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
}
