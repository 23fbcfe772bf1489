/**
 * Where a mask sits on a face, from FaceMesh landmarks. Everything is built in a face-aligned frame
 * (x to the picture's right across the face, y down the face's midline, unit = 1 pixel), so roll is handled by one
 * transform and yaw by the landmarks' own projection.
 */
import { FACEMESH_POINTS } from './landmarker.js';

export interface Pt {
  x: number;
  y: number;
}

export type Variant = 'correct' | 'below_nose' | 'below_mouth' | 'chin_only';
export type Shape = 'surgical' | 'cloth' | 'kn95';

/** MediaPipe face-oval indices, clockwise from the top of the forehead. */
export const FACE_OVAL = [
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
  172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
] as const;

export const LM = {
  foreheadTop: 10, chin: 152, noseBridge: 168, noseBridgeLow: 6, noseTip: 1, noseTipUpper: 4, noseUpper: 5,
  subnasale: 2, nostrilRight: 98, nostrilLeft: 327, upperLipTop: 0, upperLipInner: 13, lowerLipInner: 14,
  lowerLipBottom: 17, mouthRight: 61, mouthLeft: 291, eyeOuterRight: 33, eyeOuterLeft: 263, eyeLowerRight: 145,
  eyeLowerLeft: 374, cheekRight: 234, cheekLeft: 454,
} as const;

/** The knobs one mask draw picks (see mask-style.ts for their ranges). */
export interface PlacementParams {
  variant: Variant;
  shape: Shape;
  /** 0..1 position of the top edge's centre inside the variant's allowed band. */
  topT: number;
  /** How far the top edge drops toward the sides, × face height. */
  drop: number;
  /** Nose-wire tent above the top edge's centre, × face height (0 when the mask is below the nose). */
  bump: number;
  /** Widening beyond the face contour, × 1 (1.04 = 4 % wider). */
  widen: number;
  /** How far the mask reaches below the chin, × face height. */
  below: number;
}

export interface MaskGeometry {
  /** SVG matrix(a b c d e f) from the face frame to crop pixels. */
  transform: [number, number, number, number, number, number];
  /** Closed outline, frame coordinates. */
  outline: Pt[];
  topCentre: Pt;
  /** Curves across the mask following the top edge (pleats for surgical masks). */
  pleats: Pt[][];
  /** Centre seam from the top edge to the bottom (KN95 / cloth). */
  seam: Pt[];
  /** Ear loops, each [start, control, end]. */
  loops: [Pt, Pt, Pt][];
  faceHeight: number;
  /** Landmarks in the face frame (for checks and shading anchors). */
  lm(i: number): Pt;
  /** The mask's frame-space extent. */
  bounds: { x0: number; x1: number; y0: number; y1: number };
}

const sub = (a: Pt, b: Pt): Pt => ({ x: a.x - b.x, y: a.y - b.y });
const lerp = (a: Pt, b: Pt, t: number): Pt => ({ x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t });
const norm = (a: Pt): Pt => {
  const l = Math.hypot(a.x, a.y) || 1;
  return { x: a.x / l, y: a.y / l };
};

/** Face frame: down = forehead-top → chin, right = that turned -90°, averaged with the eye line. */
function faceFrame(points: Float32Array) {
  const p = (i: number): Pt => ({ x: points[i * 3], y: points[i * 3 + 1] });
  const down0 = norm(sub(p(LM.chin), p(LM.foreheadTop)));
  const eyes = norm(sub(p(LM.eyeOuterLeft), p(LM.eyeOuterRight)));
  const right = norm({ x: down0.y + eyes.x, y: -down0.x + eyes.y });
  const down = { x: -right.y, y: right.x };
  const origin = p(LM.noseTip);
  const toFrame = (q: Pt): Pt => {
    const d = sub(q, origin);
    return { x: d.x * right.x + d.y * right.y, y: d.x * down.x + d.y * down.y };
  };
  const transform: MaskGeometry['transform'] = [right.x, right.y, down.x, down.y, origin.x, origin.y];
  return { toFrame, transform, lm: (i: number) => toFrame(p(i)) };
}

function densify(ring: Pt[], perEdge: number): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i], b = ring[(i + 1) % ring.length];
    for (let k = 0; k < perEdge; k++) out.push(lerp(a, b, k / perEdge));
  }
  return out;
}

const smoothstep = (t: number) => {
  const u = Math.max(0, Math.min(1, t));
  return u * u * (3 - 2 * u);
};

/** Top-edge centre band for each variant, as [upper, lower] y in the face frame (smaller y = higher). */
function topBand(v: Variant, lm: (i: number) => Pt, H: number): [number, number] {
  const y = (i: number) => lm(i).y;
  const noseBottom = Math.max(y(LM.subnasale), y(LM.nostrilLeft), y(LM.nostrilRight), y(LM.noseTip));
  switch (v) {
    case 'correct': {
      const bridge = lerp(lm(LM.noseBridge), lm(LM.noseTip), 0.3).y;
      return [bridge, Math.min(lerp(lm(LM.noseBridge), lm(LM.noseTip), 0.5).y, y(LM.noseUpper) - 0.05 * H)];
    }
    case 'below_nose': {
      const hi = noseBottom + 0.025 * H;
      return [hi, Math.max(hi, Math.min(y(LM.upperLipTop), y(LM.upperLipInner) - 0.03 * H))];
    }
    case 'below_mouth': {
      const hi = y(LM.lowerLipBottom) + 0.02 * H;
      return [hi, lerp(lm(LM.lowerLipBottom), lm(LM.chin), 0.35).y];
    }
    case 'chin_only':
      return [lerp(lm(LM.lowerLipBottom), lm(LM.chin), 0.4).y, lerp(lm(LM.lowerLipBottom), lm(LM.chin), 0.65).y];
  }
}

export function placeMask(points: Float32Array, params: PlacementParams): MaskGeometry {
  if (points.length < FACEMESH_POINTS * 3) throw new Error('placeMask needs 468 landmarks');
  const { transform, lm } = faceFrame(points);
  const H = Math.hypot(lm(LM.chin).x - lm(LM.foreheadTop).x, lm(LM.chin).y - lm(LM.foreheadTop).y);
  const oval = FACE_OVAL.map((i) => lm(i));
  const xs = oval.map((p) => p.x);
  const cxFace = (Math.min(...xs) + Math.max(...xs)) / 2;
  const halfW = (Math.max(...xs) - Math.min(...xs)) / 2;
  const [hi, lo] = topBand(params.variant, lm, H);
  const centreX = params.variant === 'correct' ? lerp(lm(LM.noseBridge), lm(LM.noseTip), 0.4).x : lm(LM.noseTip).x;
  const top: Pt = { x: centreX, y: hi + (lo - hi) * params.topT };

  const mouthY = lm(LM.upperLipInner).y;
  const chinY = lm(LM.chin).y;
  const reach = params.below * H;
  const shaped = oval.map((p) => {
    const sink = reach * smoothstep((p.y - mouthY) / Math.max(1, chinY - mouthY));
    return { x: cxFace + (p.x - cxFace) * params.widen, y: p.y + sink };
  });
  const ring = densify(shaped, 10);

  const wire = params.variant === 'correct' ? params.bump * H : 0;
  const vPower = params.shape === 'kn95' ? 1.15 : 2;
  const topY = (x: number): number => {
    const u = Math.min(1.3, Math.abs(x - top.x) / halfW);
    const tent = wire * Math.exp(-((x - top.x) ** 2) / (2 * (0.13 * halfW) ** 2));
    return top.y + params.drop * H * u ** vPower - tent;
  };

  // The ring from one crossing of the top edge, down through the chin, to the other.
  const chinIdx = FACE_OVAL.indexOf(LM.chin) * 10;
  const below = (p: Pt) => p.y - topY(p.x);
  const n = ring.length;
  const crossing = (a: Pt, b: Pt): Pt => {
    const fa = below(a), fb = below(b);
    return lerp(a, b, fa / (fa - fb || 1));
  };
  let i0 = chinIdx, i1 = chinIdx, steps = 0;
  while (below(ring[(i0 - 1 + n) % n]) >= 0 && steps++ < n) i0 = (i0 - 1 + n) % n;
  while (below(ring[(i1 + 1) % n]) >= 0 && steps++ < n) i1 = (i1 + 1) % n;
  const run: Pt[] = [];
  for (let i = i0; ; i = (i + 1) % n) {
    run.push(ring[i]);
    if (i === i1) break;
  }
  const start = crossing(ring[(i0 - 1 + n) % n], ring[i0]);
  const end = crossing(ring[(i1 + 1) % n], ring[i1]);
  const topEdge: Pt[] = [];
  const samples = 40;
  for (let k = 0; k <= samples; k++) {
    const x = end.x + (start.x - end.x) * (k / samples);
    topEdge.push({ x, y: topY(x) });
  }
  const outline = [start, ...run, end, ...topEdge.slice(1, -1)];

  const ys = outline.map((p) => p.y);
  const oxs = outline.map((p) => p.x);
  const bounds = { x0: Math.min(...oxs), x1: Math.max(...oxs), y0: Math.min(...ys), y1: Math.max(...ys) };
  const bottomY = bounds.y1;

  const pleats: Pt[][] = [];
  for (const f of [0.27, 0.5, 0.73]) {
    const line: Pt[] = [];
    for (let k = 0; k <= samples; k++) {
      const x = bounds.x0 + (bounds.x1 - bounds.x0) * (k / samples);
      const t = topY(x);
      line.push({ x, y: t + (bottomY - top.y) * f * (1 - 0.25 * Math.abs(x - top.x) / halfW) });
    }
    pleats.push(line);
  }
  const chinPt = { x: lm(LM.chin).x, y: bottomY };
  const seam = [top, lerp(top, chinPt, 0.5), chinPt];

  // Loops run from the mask's side corners to the ear, just behind the contour beside the eye–nose level.
  const loops: [Pt, Pt, Pt][] = [];
  const ear = (i: number, side: number): Pt => {
    const p = lm(i);
    return { x: p.x + side * 0.05 * halfW, y: p.y + 0.03 * H };
  };
  const sideCorner = (from: Pt, side: number): Pt => {
    const target = from.y + (bottomY - from.y) * 0.65;
    let bestP = from, bestD = Infinity;
    for (const p of run) {
      if ((p.x - top.x) * side <= 0) continue;
      const d = Math.abs(p.y - target);
      if (d < bestD) (bestD = d), (bestP = p);
    }
    return bestP;
  };
  for (const [corner, side] of [
    [start, Math.sign(start.x - top.x) || -1],
    [end, Math.sign(end.x - top.x) || 1],
  ] as [Pt, number][]) {
    const e = ear(side < 0 ? LM.cheekRight : LM.cheekLeft, side);
    const lower = sideCorner(corner, side);
    for (const c of [corner, lower]) {
      if ((e.x - c.x) * side < 0.02 * halfW && Math.abs(e.y - c.y) < 0.05 * H) continue;
      const ctrl = { x: (c.x + e.x) / 2 + side * 0.04 * halfW, y: (c.y + e.y) / 2 };
      loops.push([c, ctrl, e]);
    }
  }

  return { transform, outline, topCentre: top, pleats, seam, loops, faceHeight: H, lm, bounds };
}

/** Is a picture point inside the mask outline (even-odd rule)? For tests and checks. */
export function insideMask(g: MaskGeometry, pictureX: number, pictureY: number): boolean {
  const [a, b, c, d, e, f] = g.transform;
  const px = pictureX - e, py = pictureY - f;
  const q = { x: px * a + py * b, y: px * c + py * d };
  let inside = false;
  const o = g.outline;
  for (let i = 0, j = o.length - 1; i < o.length; j = i++) {
    if (o[i].y > q.y !== o[j].y > q.y && q.x < ((o[j].x - o[i].x) * (q.y - o[i].y)) / (o[j].y - o[i].y) + o[i].x) inside = !inside;
  }
  return inside;
}

/**
 * How much of the mask lands inside a width×height crop (0..1) and what share of the crop it covers, sampled on a
 * grid: a mask pushed off the bottom of a tight crop would teach the classifier nothing about masks.
 */
export function maskVisibility(g: MaskGeometry, width: number, height: number): { inside: number; cover: number } {
  const [a, b, c, d, e, f] = g.transform;
  const pts = g.outline.map((p) => ({ x: a * p.x + c * p.y + e, y: b * p.x + d * p.y + f }));
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const steps = 32;
  let total = 0, visible = 0;
  for (let i = 0; i < steps; i++) {
    for (let j = 0; j < steps; j++) {
      const x = x0 + ((i + 0.5) / steps) * (x1 - x0);
      const y = y0 + ((j + 0.5) / steps) * (y1 - y0);
      if (!insideMask(g, x, y)) continue;
      total++;
      if (x >= 0 && x < width && y >= 0 && y < height) visible++;
    }
  }
  const cellArea = ((x1 - x0) * (y1 - y0)) / (steps * steps);
  return { inside: total ? visible / total : 0, cover: (visible * cellArea) / (width * height) };
}
