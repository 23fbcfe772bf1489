/** How a mask looks: picked from a seeded Random, drawn as SVG over its geometry. */
import type { MaskGeometry, PlacementParams, Pt, Shape, Variant } from './mask-geometry.js';
import type { Random } from './random.js';

export type Colour = 'white' | 'light_blue' | 'black' | 'dark_grey' | 'navy' | 'pastel' | 'patterned';
export type Pattern = 'stripes' | 'dots' | 'floral' | 'check';

export interface MaskStyle {
  shape: Shape;
  colour: Colour;
  /** Base fill, #rrggbb. */
  fill: string;
  pattern: Pattern | null;
  patternColour: string | null;
  loops: boolean;
  /** Side darkening 0..1. */
  shading: number;
  /** Texture strength 0..1. */
  texture: number;
  /** Edge blur in pixels. */
  edgeBlur: number;
}

const COLOUR_WEIGHTS: Record<Colour, number> = {
  light_blue: 0.24, white: 0.16, black: 0.2, dark_grey: 0.1, navy: 0.1, pastel: 0.06, patterned: 0.14,
};
const FILLS: Record<Exclude<Colour, 'patterned'>, string[]> = {
  light_blue: ['#a9cde6', '#9ec9e2', '#b7d9ee', '#8fbfdc', '#c3e0f0', '#7fb2d6'],
  white: ['#f2f2ee', '#e8e9e6', '#fafafa', '#ecebe4'],
  black: ['#1b1b1d', '#232325', '#121214', '#2a2a2c'],
  dark_grey: ['#3b3e43', '#4a4d52', '#55585c', '#34363a'],
  navy: ['#1f2a44', '#2b3550', '#1a2238', '#303d5e'],
  pastel: ['#f1c6d3', '#bfe3c8', '#e9dcc3', '#d9c8ec', '#f4e3a1'],
};
const PATTERN_BASES = ['#1f2a44', '#f2f2ee', '#b03a3a', '#2f5d3a', '#e9dcc3', '#222222', '#7a9cc6', '#d97a9a'];
const PATTERN_INKS = ['#ffffff', '#111111', '#e8c547', '#c0392b', '#2e86c1', '#f5b7b1', '#58d68d'];

const SHAPE_WEIGHTS: Record<Shape, number> = { surgical: 0.45, cloth: 0.35, kn95: 0.2 };

export function pickStyle(rng: Random): MaskStyle {
  const shape = rng.weighted(SHAPE_WEIGHTS);
  let colour = rng.weighted(COLOUR_WEIGHTS);
  if (shape === 'kn95' && colour === 'patterned') colour = rng.pick(['white', 'black'] as const);
  if (colour === 'patterned') {
    const fill = rng.pick(PATTERN_BASES);
    let ink = rng.pick(PATTERN_INKS);
    if (ink === fill) ink = '#ffffff';
    return { shape, colour, fill, pattern: rng.pick(['stripes', 'dots', 'floral', 'check'] as const), patternColour: ink, ...finish(rng) };
  }
  return { shape, colour, fill: jitter(rng.pick(FILLS[colour]), rng), pattern: null, patternColour: null, ...finish(rng) };
}

function finish(rng: Random) {
  return { loops: rng.chance(0.88), shading: rng.range(0.25, 0.6), texture: rng.range(0.05, 0.35), edgeBlur: rng.range(0.35, 1.1) };
}

function jitter(hex: string, rng: Random): string {
  const n = parseInt(hex.slice(1), 16);
  const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => Math.max(0, Math.min(255, Math.round(v + rng.range(-10, 10)))));
  return '#' + ch.map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** Placement knobs for a variant and shape. */
export function pickPlacement(rng: Random, variant: Variant, shape: Shape): PlacementParams {
  const belowByVariant: Record<Variant, [number, number]> = {
    correct: [0.02, 0.08], below_nose: [0.03, 0.1], below_mouth: [0.1, 0.2], chin_only: [0.16, 0.3],
  };
  const dropByShape: Record<Shape, [number, number]> = { surgical: [0.02, 0.06], cloth: [0.05, 0.11], kn95: [0.08, 0.14] };
  const [b0, b1] = belowByVariant[variant];
  const [d0, d1] = dropByShape[shape];
  return {
    variant,
    shape,
    topT: rng.range(0, 1),
    drop: rng.range(d0, d1) * (variant === 'correct' ? 1 : 0.6),
    bump: shape === 'kn95' ? rng.range(0.03, 0.05) : rng.range(0.01, 0.03),
    widen: rng.range(1.0, 1.06),
    below: rng.range(b0, b1),
  };
}

const f = (v: number) => v.toFixed(2);
const poly = (pts: Pt[]) => pts.map((p, i) => `${i ? 'L' : 'M'}${f(p.x)} ${f(p.y)}`).join(' ');

function patternDef(style: MaskStyle, unit: number, rng: Random): string {
  const s = Math.max(3, unit);
  const ink = style.patternColour ?? '#ffffff';
  const angle = rng.range(-20, 20).toFixed(1);
  switch (style.pattern) {
    case 'stripes':
      return `<pattern id="pat" width="${f(s)}" height="${f(s)}" patternUnits="userSpaceOnUse" patternTransform="rotate(${angle})"><rect width="${f(s)}" height="${f(s)}" fill="${style.fill}"/><rect width="${f(s)}" height="${f(s * 0.4)}" fill="${ink}"/></pattern>`;
    case 'dots':
      return `<pattern id="pat" width="${f(s)}" height="${f(s)}" patternUnits="userSpaceOnUse" patternTransform="rotate(${angle})"><rect width="${f(s)}" height="${f(s)}" fill="${style.fill}"/><circle cx="${f(s / 2)}" cy="${f(s / 2)}" r="${f(s * 0.2)}" fill="${ink}"/></pattern>`;
    case 'check':
      return `<pattern id="pat" width="${f(s * 2)}" height="${f(s * 2)}" patternUnits="userSpaceOnUse" patternTransform="rotate(${angle})"><rect width="${f(s * 2)}" height="${f(s * 2)}" fill="${style.fill}"/><rect width="${f(s)}" height="${f(s)}" fill="${ink}" opacity="0.7"/><rect x="${f(s)}" y="${f(s)}" width="${f(s)}" height="${f(s)}" fill="${ink}" opacity="0.7"/></pattern>`;
    default: {
      const petals = [0, 72, 144, 216, 288]
        .map((a) => {
          const r = (a * Math.PI) / 180;
          return `<circle cx="${f(s + Math.cos(r) * s * 0.28)}" cy="${f(s + Math.sin(r) * s * 0.28)}" r="${f(s * 0.2)}" fill="${ink}"/>`;
        })
        .join('');
      return `<pattern id="pat" width="${f(s * 2)}" height="${f(s * 2)}" patternUnits="userSpaceOnUse" patternTransform="rotate(${angle})"><rect width="${f(s * 2)}" height="${f(s * 2)}" fill="${style.fill}"/>${petals}<circle cx="${f(s)}" cy="${f(s)}" r="${f(s * 0.13)}" fill="#f4d03f"/><circle cx="0" cy="0" r="${f(s * 0.15)}" fill="${ink}" opacity="0.6"/></pattern>`;
    }
  }
}

function luminance(hex: string): number {
  const n = parseInt(hex.slice(1), 16);
  return (0.299 * ((n >> 16) & 255) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255)) / 255;
}

/** The mask as an SVG the size of the crop; seed feeds the texture noise and pattern angle. */
export function maskSvg(width: number, height: number, g: MaskGeometry, style: MaskStyle, rng: Random): string {
  const H = g.faceHeight;
  const { x0, x1, y0, y1 } = g.bounds;
  const w = x1 - x0;
  const outline = poly(g.outline) + ' Z';
  const dark = luminance(style.fill) < 0.3;
  const lineColour = dark ? '#000000' : '#3c4650';
  const lineW = Math.max(0.5, H * 0.008);
  const defs: string[] = [];
  const fill = style.pattern ? 'url(#pat)' : style.fill;
  if (style.pattern) defs.push(patternDef(style, H * rng.range(0.05, 0.09), rng));
  const sh = style.shading;
  defs.push(
    `<linearGradient id="side" gradientUnits="userSpaceOnUse" x1="${f(x0)}" y1="0" x2="${f(x1)}" y2="0">` +
      `<stop offset="0" stop-color="#000" stop-opacity="${f(sh)}"/><stop offset="0.3" stop-color="#000" stop-opacity="0"/>` +
      `<stop offset="0.7" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="${f(sh)}"/></linearGradient>`,
    `<radialGradient id="bulge" gradientUnits="userSpaceOnUse" cx="${f(g.topCentre.x)}" cy="${f(g.topCentre.y + (y1 - y0) * 0.3)}" r="${f(w * 0.45)}">` +
      `<stop offset="0" stop-color="#fff" stop-opacity="${f(dark ? 0.12 : 0.18)}"/><stop offset="1" stop-color="#fff" stop-opacity="0"/></radialGradient>`,
    `<linearGradient id="fall" gradientUnits="userSpaceOnUse" x1="0" y1="${f(y0)}" x2="0" y2="${f(y1)}">` +
      `<stop offset="0.55" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="${f(sh * 0.6)}"/></linearGradient>`,
    `<clipPath id="clip"><path d="${outline}"/></clipPath>`,
    `<filter id="grain" x="0" y="0" width="100%" height="100%"><feTurbulence type="fractalNoise" baseFrequency="${f(rng.range(0.3, 0.9))}" numOctaves="2" seed="${rng.int(1, 9999)}"/>` +
      `<feColorMatrix type="matrix" values="0 0 0 0 0.5  0 0 0 0 0.5  0 0 0 0 0.5  0 0 0 ${f(style.texture)} 0"/></filter>`,
    `<filter id="soft" x="-10%" y="-10%" width="120%" height="120%"><feGaussianBlur stdDeviation="${f(style.edgeBlur)}"/></filter>`,
  );
  const detail: string[] = [];
  if (style.shape === 'surgical') {
    for (const line of g.pleats) {
      detail.push(`<path d="${poly(line)}" fill="none" stroke="${lineColour}" stroke-opacity="0.35" stroke-width="${f(lineW)}"/>`);
      const lit = line.map((p) => ({ x: p.x, y: p.y + lineW * 1.2 }));
      detail.push(`<path d="${poly(lit)}" fill="none" stroke="#fff" stroke-opacity="${dark ? 0.12 : 0.3}" stroke-width="${f(lineW)}"/>`);
    }
    const rim = `<path d="${outline}" fill="none" stroke="${lineColour}" stroke-opacity="0.25" stroke-width="${f(lineW * 2.5)}"/>`;
    detail.push(rim);
  } else {
    const [a, m, b] = g.seam;
    const seamPath = `M${f(a.x)} ${f(a.y)} Q${f(m.x + (style.shape === 'cloth' ? 0.02 * H : 0))} ${f(m.y)} ${f(b.x)} ${f(b.y)}`;
    detail.push(`<path d="${seamPath}" fill="none" stroke="${lineColour}" stroke-opacity="${style.shape === 'kn95' ? 0.45 : 0.3}" stroke-width="${f(lineW * (style.shape === 'kn95' ? 1.4 : 1))}"/>`);
    if (style.shape === 'kn95') {
      detail.push(`<path d="${outline}" fill="none" stroke="${lineColour}" stroke-opacity="0.3" stroke-width="${f(lineW * 3)}"/>`);
    }
  }
  const loopColour = style.colour === 'patterned' ? style.patternColour ?? '#fff' : style.fill;
  const loops = style.loops
    ? g.loops
        .map(([s, c, e]) => `<path d="M${f(s.x)} ${f(s.y)} Q${f(c.x)} ${f(c.y)} ${f(e.x)} ${f(e.y)}" fill="none" stroke="${loopColour}" stroke-opacity="0.9" stroke-width="${f(Math.max(0.8, H * 0.011))}" stroke-linecap="round"/>`)
        .join('')
    : '';
  const [ta, tb, tc, td, te, tf] = g.transform;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<defs>${defs.join('')}</defs>` +
    `<g transform="matrix(${[ta, tb, tc, td, te, tf].map((v) => v.toFixed(5)).join(' ')})" filter="url(#soft)">` +
    loops +
    `<path d="${outline}" fill="${fill}"/>` +
    `<g clip-path="url(#clip)">` +
    `<rect x="${f(x0 - 2)}" y="${f(y0 - 2)}" width="${f(w + 4)}" height="${f(y1 - y0 + 4)}" filter="url(#grain)"/>` +
    detail.join('') +
    `<rect x="${f(x0 - 2)}" y="${f(y0 - 2)}" width="${f(w + 4)}" height="${f(y1 - y0 + 4)}" fill="url(#side)"/>` +
    `<rect x="${f(x0 - 2)}" y="${f(y0 - 2)}" width="${f(w + 4)}" height="${f(y1 - y0 + 4)}" fill="url(#fall)"/>` +
    `<rect x="${f(x0 - 2)}" y="${f(y0 - 2)}" width="${f(w + 4)}" height="${f(y1 - y0 + 4)}" fill="url(#bulge)"/>` +
    `</g></g></svg>`
  );
}
