import { LABELS, type Label } from '../../core/types.js';
import { createRng, deriveSeed, shuffleInPlace } from '../../core/rng.js';

/**
 * Train / validation / test split by photo: every crop of one photo, and every photo that looks like a
 * duplicate of it (same 8×8 average hash within `duplicateDistance` bits), lands in the same split.
 * Stratified by label: a group counts under the rarest label among its faces.
 */
export const SPLITS = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export interface SplitPhoto {
  photoId: string;
  labels: Label[];
  /** 16 hex digits; photos without a hash are never grouped with others. */
  hash?: string;
}

export interface SplitOptions {
  seed: number;
  /** train, validation, test; normalised to sum 1. */
  fractions: [number, number, number];
  /** Max differing bits of the average hash for two photos to count as duplicates; -1 turns grouping off. */
  duplicateDistance: number;
  /**
   * Cross-validation: the test split stays as above, the other photos are dealt into `of` folds the same way
   * (by group, stratified), and fold `index` (0-based) becomes the validation split, the rest training.
   */
  fold?: { index: number; of: number };
}

export interface SplitResult {
  splitOf: Map<string, SplitName>;
  groups: number;
  /** Groups holding more than one photo (duplicates found). */
  duplicateGroups: number;
}

export const DEFAULT_SPLIT: SplitOptions = { seed: 42, fractions: [0.7, 0.15, 0.15], duplicateDistance: 3 };

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Union-find over photos with near-equal hashes: returns a group index per photo. */
function groupDuplicates(photos: SplitPhoto[], maxDistance: number): number[] {
  const parent = photos.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  if (maxDistance >= 0) {
    const hi = photos.map((p) => (p.hash ? parseInt(p.hash.slice(0, 8), 16) : NaN));
    const lo = photos.map((p) => (p.hash ? parseInt(p.hash.slice(8, 16), 16) : NaN));
    for (let i = 0; i < photos.length; i++) {
      if (Number.isNaN(hi[i])) continue;
      for (let j = i + 1; j < photos.length; j++) {
        if (Number.isNaN(hi[j])) continue;
        if (popcount32(hi[i] ^ hi[j]) + popcount32(lo[i] ^ lo[j]) <= maxDistance) parent[find(j)] = find(i);
      }
    }
  }
  return photos.map((_, i) => find(i));
}

export function splitPhotos(input: SplitPhoto[], options: SplitOptions = DEFAULT_SPLIT): SplitResult {
  const sum = options.fractions.reduce((a, b) => a + b, 0);
  if (!(sum > 0) || options.fractions.some((f) => f < 0)) throw new Error(`split fractions ${options.fractions.join('/')}: must be ≥ 0 and not all 0`);
  const target = options.fractions.map((f) => f / sum);
  // Order-independent: sort by photo id first.
  const photos = [...input].sort((a, b) => (a.photoId < b.photoId ? -1 : a.photoId > b.photoId ? 1 : 0));
  const root = groupDuplicates(photos, options.duplicateDistance);
  const members = new Map<number, SplitPhoto[]>();
  photos.forEach((p, i) => {
    const list = members.get(root[i]) ?? [];
    list.push(p);
    members.set(root[i], list);
  });
  const labelCount = new Map<Label, number>(LABELS.map((l) => [l, 0]));
  for (const p of photos) for (const l of p.labels) labelCount.set(l, labelCount.get(l)! + 1);
  const rarest = (labels: Label[]): Label => labels.reduce((a, b) => (labelCount.get(b)! < labelCount.get(a)! ? b : a));

  const strata = new Map<Label, SplitPhoto[][]>();
  for (const group of members.values()) {
    const labels = group.flatMap((p) => p.labels);
    if (!labels.length) continue;
    const key = rarest(labels);
    const list = strata.get(key) ?? [];
    list.push(group);
    strata.set(key, list);
  }

  const bucketOf = dealGroups(strata, target, options.seed, 'split');
  if (options.fold) {
    const { index, of } = options.fold;
    if (!Number.isInteger(of) || of < 2 || !Number.isInteger(index) || index < 0 || index >= of) throw new Error(`split fold ${index + 1} of ${of}: need 2 or more folds and a fold among them`);
    const kept = new Map<Label, SplitPhoto[][]>();
    for (const [label, groups] of strata) kept.set(label, groups.filter((g) => bucketOf.get(g) !== 2));
    const foldOf = dealGroups(kept, new Array<number>(of).fill(1 / of), options.seed, 'fold');
    for (const [group, fold] of foldOf) bucketOf.set(group, fold === index ? 1 : 0);
  }
  const splitOf = new Map<string, SplitName>();
  for (const [group, bucket] of bucketOf) for (const p of group) splitOf.set(p.photoId, SPLITS[bucket]!);
  return { splitOf, groups: members.size, duplicateGroups: [...members.values()].filter((g) => g.length > 1).length };
}

/** Deals each stratum's groups (shuffled, seeded) to the bucket furthest below its share of that label's faces. */
function dealGroups(strata: Map<Label, SplitPhoto[][]>, shares: number[], seed: number, tag: string): Map<SplitPhoto[], number> {
  const bucketOf = new Map<SplitPhoto[], number>();
  for (const label of LABELS) {
    const groups = strata.get(label);
    if (!groups) continue;
    const order = shuffleInPlace([...groups], createRng(deriveSeed(seed, tag, label)));
    const have = new Array<number>(shares.length).fill(0);
    let total = 0;
    for (const group of order) {
      const size = Math.max(1, group.reduce((n, p) => n + p.labels.filter((l) => l === label).length, 0));
      total += size;
      let best = 0;
      let bestDeficit = -Infinity;
      for (let b = 0; b < shares.length; b++) {
        const deficit = shares[b]! * total - have[b]!;
        if (shares[b]! > 0 && deficit > bestDeficit + 1e-9) {
          best = b;
          bestDeficit = deficit;
        }
      }
      have[best]! += size;
      bucketOf.set(group, best);
    }
  }
  return bucketOf;
}
