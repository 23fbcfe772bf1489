/**
 * Post-processing of the AIZOO face-mask SSD, as its published inference code does it: anchors on five
 * feature maps, box decode with variances, score = the larger of the two class scores, greedy NMS.
 * The net is fully convolutional, so the anchor grid is made for the actual input height × width.
 */
import type { Box } from '../core/types.js';
import { iou, shareInside } from '../core/geometry.js';

/** The published anchor set (relative to the image side): two sizes and three aspect ratios per feature map. */
export const SSD_ANCHOR_SIZES: ReadonlyArray<readonly [number, number]> = [[0.04, 0.056], [0.08, 0.11], [0.16, 0.22], [0.32, 0.45], [0.64, 0.72]];
export const SSD_ANCHOR_RATIOS = [1, 0.62, 0.42] as const;
export const SSD_VARIANCES = [0.1, 0.1, 0.2, 0.2] as const;
/** The input side the model was trained at. */
export const SSD_TRAINED_SIZE = 260;
/** The model's class order. */
export const SSD_CLASSES = ['Mask', 'NoMask'] as const;
export type SsdClass = (typeof SSD_CLASSES)[number];
export const ANCHORS_PER_CELL = SSD_ANCHOR_SIZES[0]!.length + SSD_ANCHOR_RATIOS.length - 1;

export class SsdInputSizeError extends Error {}

/**
 * Feature-map sizes (rows, cols) of the five detection layers for an input side: six 2×2 stride-2 max pools that
 * round up (Caffe), the fifth map after one more unpadded 3×3 conv. 260 → 33, 17, 9, 5, 3.
 */
export function ssdFeatureMaps(height: number, width: number): Array<[number, number]> {
  const side = (n: number) => {
    if (!Number.isInteger(n) || n < 1) throw new SsdInputSizeError(`SSD input side must be a whole number of pixels, got ${n}`);
    const input = n;
    const pooled: number[] = [];
    for (let i = 0; i < 6; i++) pooled.push((n = Math.ceil(n / 2)));
    const last = pooled[5]! - 2;
    if (last < 1) throw new SsdInputSizeError(`SSD input side ${input} px is too small: the last feature map would be empty (need ≥ 129 px)`);
    return [pooled[2]!, pooled[3]!, pooled[4]!, pooled[5]!, last];
  };
  const rows = side(height);
  const cols = side(width);
  return rows.map((r, i) => [r, cols[i]!]);
}

export interface SsdAnchorOptions {
  /**
   * Where anchor centres sit. 'published' (the published code): ((i + 0.5) / n) on each map, which centres the grid
   * on the image; the model learned its offsets against that at 260 px. 'receptive-field': each cell's receptive-field
   * centre (stride·i + (stride − 1)/2; the fifth map one cell in) plus the mean gap between the two grids at 260 px
   * (−2, −6, −14, −30, −30 px), so at any input size the anchors stand where the model, on average, learned them.
   * The pooled maps overhang the image unless its side is a multiple of the stride, which moves the published grid
   * against the receptive fields when the input size changes: boxes come out shifted right/down.
   */
  grid?: 'published' | 'receptive-field';
  /**
   * The anchor sizes are fractions of this many input pixels. Unset (the published code): fractions of the input's
   * own width and height, so anchors scale with the input. 260 keeps them at the pixel sizes the model was trained
   * with, whatever the input size (and square in pixels on a non-square input).
   */
  anchorPixels?: number;
}

/** Receptive-field stride and first-cell centre (input pixel index) of each detection map. */
const MAP_GEOMETRY: ReadonlyArray<{ stride: number; first: number }> = [
  { stride: 8, first: 3.5 },
  { stride: 16, first: 7.5 },
  { stride: 32, first: 15.5 },
  { stride: 64, first: 31.5 },
  { stride: 64, first: 95.5 }, // an unpadded 3×3 conv on the fourth map: cell i sits on its cell i + 1
];

/** Normalised centres of one map's cells along one side of `side` pixels. */
function cellCentres(side: number, cells: number, level: number, grid: 'published' | 'receptive-field'): Float64Array {
  const out = new Float64Array(cells);
  if (grid === 'published') {
    for (let i = 0; i < cells; i++) out[i] = (i + 0.5) / cells;
    return out;
  }
  const { stride, first } = MAP_GEOMETRY[level]!;
  const trainedCells = ssdFeatureMaps(SSD_TRAINED_SIZE, SSD_TRAINED_SIZE)[level]![0];
  // Mean over the 260-px map of (published centre − receptive-field centre), in pixels.
  const gap = (SSD_TRAINED_SIZE - 1) / 2 - (first + (stride * (trainedCells - 1)) / 2);
  for (let i = 0; i < cells; i++) out[i] = (first + stride * i + gap + 0.5) / side;
  return out;
}

/** Anchors as (cx, cy, w, h) relative to the input, in the model's output order: map by map, row-major, 4 per cell. */
export function generateSsdAnchors(height: number, width: number, opts: SsdAnchorOptions = {}): Float32Array {
  const maps = ssdFeatureMaps(height, width);
  const out = new Float32Array(maps.reduce((n, [r, c]) => n + r * c, 0) * ANCHORS_PER_CELL * 4);
  const sx = opts.anchorPixels ? opts.anchorPixels / width : 1;
  const sy = opts.anchorPixels ? opts.anchorPixels / height : 1;
  const grid = opts.grid ?? 'published';
  let o = 0;
  maps.forEach(([rows, cols], level) => {
    const sizes = SSD_ANCHOR_SIZES[level]!;
    // Each size at the first ratio, then the first size at the other ratios.
    const shapes: Array<[number, number]> = [
      ...sizes.map((s) => [s, SSD_ANCHOR_RATIOS[0]] as [number, number]),
      ...SSD_ANCHOR_RATIOS.slice(1).map((r) => [sizes[0], r] as [number, number]),
    ];
    const xs = cellCentres(width, cols, level, grid);
    const ys = cellCentres(height, rows, level, grid);
    for (let y = 0; y < rows; y++)
      for (let x = 0; x < cols; x++)
        for (const [s, r] of shapes) {
          out[o++] = xs[x]!;
          out[o++] = ys[y]!;
          out[o++] = s * Math.sqrt(r) * sx;
          out[o++] = (s / Math.sqrt(r)) * sy;
        }
  });
  return out;
}

export interface SsdDetection {
  /** Relative to the model input, [0, 1] inside it (not clipped). */
  box: Box;
  /** The larger class score. */
  score: number;
  /** Index into SSD_CLASSES of the larger score. */
  classIndex: number;
  /** Both class scores (sigmoid outputs, independent, not summing to 1): [Mask, NoMask]. */
  classScores: [number, number];
}

/**
 * Decodes loc (N×4: dx, dy, dw, dh) and cls (N×2 sigmoid scores) against the anchors; keeps scores ≥ minScore.
 */
export function decodeSsd(loc: Float32Array, cls: Float32Array, anchors: Float32Array, minScore: number): SsdDetection[] {
  const n = anchors.length / 4;
  if (loc.length !== n * 4 || cls.length !== n * 2)
    throw new SsdInputSizeError(`SSD outputs hold ${loc.length / 4} boxes and ${cls.length / 2} scores for ${n} anchors`);
  const [vx, vy, vw, vh] = SSD_VARIANCES;
  const out: SsdDetection[] = [];
  for (let i = 0; i < n; i++) {
    const mask = cls[i * 2]!;
    const noMask = cls[i * 2 + 1]!;
    const score = Math.max(mask, noMask);
    if (!(score >= minScore)) continue;
    const a = i * 4;
    const aw = anchors[a + 2]!;
    const ah = anchors[a + 3]!;
    const cx = anchors[a]! + loc[a]! * vx * aw;
    const cy = anchors[a + 1]! + loc[a + 1]! * vy * ah;
    const w = Math.exp(loc[a + 2]! * vw) * aw;
    const h = Math.exp(loc[a + 3]! * vh) * ah;
    out.push({ box: { x: cx - w / 2, y: cy - h / 2, w, h }, score, classIndex: noMask > mask ? 1 : 0, classScores: [mask, noMask] });
  }
  return out;
}

/** Greedy NMS over all classes together (the published code's): best first, drop any box overlapping a kept one by more than iouThreshold. */
export function greedyNms<T extends { box: Box; score: number }>(dets: T[], iouThreshold: number, maxKeep = Number.MAX_SAFE_INTEGER): T[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const d of sorted) {
    if (kept.length >= maxKeep) break;
    if (kept.every((k) => iou(k.box, d.box) <= iouThreshold)) kept.push(d);
  }
  return kept;
}

/**
 * Drops a detection that lies mostly (≥ minShareInside of its area) inside a better one kept before it. Greedy NMS
 * keeps such a box, its IoU with the big one being small; but no face can be seen inside another face's box, so it is
 * a false detection (an eye or a mask's fold), and in a video it becomes a person of its own.
 */
export function dropNested<T extends { box: Box; score: number }>(bestFirst: T[], minShareInside = NESTED_SHARE): T[] {
  const kept: T[] = [];
  for (const d of bestFirst) if (kept.every((k) => shareInside(d.box, k.box) < minShareInside)) kept.push(d);
  return kept;
}

export const NESTED_SHARE = 0.7;
