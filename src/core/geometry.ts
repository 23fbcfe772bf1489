import type { Box } from './types.js';

/** Intersection over union of two boxes. */
export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.w, b.x + b.w);
  const y1 = Math.min(a.y + a.h, b.y + b.h);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/** The share of `inner`'s area that lies inside `outer` (0 for an empty box). */
export function shareInside(inner: Box, outer: Box): number {
  const w = Math.min(inner.x + inner.w, outer.x + outer.w) - Math.max(inner.x, outer.x);
  const h = Math.min(inner.y + inner.h, outer.y + outer.h) - Math.max(inner.y, outer.y);
  const area = inner.w * inner.h;
  return area > 0 && w > 0 && h > 0 ? (w * h) / area : 0;
}

/** A side×side square centred on (cx, cy), in whole pixels, clipped to the picture; at least 1×1 px. */
export function clippedSquare(cx: number, cy: number, side: number, width: number, height: number): Box {
  const x = Math.max(0, Math.min(width - 1, Math.round(cx - side / 2)));
  const y = Math.max(0, Math.min(height - 1, Math.round(cy - side / 2)));
  const right = Math.max(x + 1, Math.min(width, Math.round(cx + side / 2)));
  const bottom = Math.max(y + 1, Math.min(height, Math.round(cy + side / 2)));
  return { x, y, w: right - x, h: bottom - y };
}

/** One-to-one matching of boxes `a` to boxes `b`, greedily by IoU (best pair first), pairs below minIou left out. */
export function greedyMatch(a: Box[], b: Box[], minIou: number): Map<number, { index: number; iou: number }> {
  const pairs: Array<{ i: number; j: number; o: number }> = [];
  a.forEach((x, i) => b.forEach((y, j) => {
    const o = iou(x, y);
    if (o >= minIou) pairs.push({ i, j, o });
  }));
  pairs.sort((p, q) => q.o - p.o);
  const out = new Map<number, { index: number; iou: number }>();
  const used = new Set<number>();
  for (const p of pairs) {
    if (out.has(p.i) || used.has(p.j)) continue;
    out.set(p.i, { index: p.j, iou: p.o });
    used.add(p.j);
  }
  return out;
}
