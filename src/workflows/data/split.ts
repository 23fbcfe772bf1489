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

  const splitOf = new Map<string, SplitName>();
  for (const label of LABELS) {
    const groups = strata.get(label);
    if (!groups) continue;
    shuffleInPlace(groups, createRng(deriveSeed(options.seed, 'split', label)));
    const have = [0, 0, 0];
    let total = 0;
    for (const group of groups) {
      const size = Math.max(1, group.reduce((n, p) => n + p.labels.filter((l) => l === label).length, 0));
      total += size;
      let best = 0;
      let bestDeficit = -Infinity;
      for (let s = 0; s < 3; s++) {
        const deficit = target[s] * total - have[s];
        if (target[s] > 0 && deficit > bestDeficit + 1e-9) {
          best = s;
          bestDeficit = deficit;
        }
      }
      have[best] += size;
      for (const p of group) splitOf.set(p.photoId, SPLITS[best]);
    }
  }
  return { splitOf, groups: members.size, duplicateGroups: [...members.values()].filter((g) => g.length > 1).length };
}
