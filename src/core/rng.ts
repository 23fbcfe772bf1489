import { createHash } from 'node:crypto';

/** A seeded pseudo-random generator (mulberry32): same seed, same sequence. Returns numbers in [0, 1). */
export type Rng = () => number;

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed derived from a seed and any strings: independent streams per item without shared state. */
export function deriveSeed(seed: number, ...parts: Array<string | number>): number {
  return createHash('sha256').update(`${seed}|${parts.join('|')}`).digest().readUInt32LE(0);
}

export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/**
 * The rows of one epoch: each group gives `draws` rows (all of them when it has no more),
 * chosen afresh every epoch, then everything shuffled. Groups oversample or cap a class.
 */
export function epochSampler(groups: Array<{ rows: number[]; draws: number }>, rng: Rng): () => number[] {
  return () => {
    const rows: number[] = [];
    for (const g of groups) rows.push(...(g.rows.length <= g.draws ? g.rows : shuffleInPlace([...g.rows], rng).slice(0, g.draws)));
    return shuffleInPlace(rows, rng);
  };
}
