/**
 * The one face-crop path on the frame path: a face of a 640×480 frame → the 224×224 classifier input, antialiased
 * (what everything uses) and plain bilinear (for comparison), for faces at door distance (64, 128, 256 px wide).
 */
import type { BenchRow } from './stats.js';
import type { RgbImage } from '../src/core/image.js';
import { faceCropRegion, FACE_CROP_RESAMPLE } from '../src/vision/face-crop.js';
import { resampleInto } from '../src/vision/resample.js';
import { timeCalls } from './stats.js';

const TARGET_MS = 2;

export async function run(): Promise<BenchRow[]> {
  const frame: RgbImage = { width: 640, height: 480, rgb: Uint8Array.from({ length: 640 * 480 * 3 }, (_, i) => (i * 2654435761) >>> 24) };
  const out = new Float32Array(224 * 224 * 3);
  const rows: BenchRow[] = [];
  for (const side of [64, 128, 256]) {
    const region = faceCropRegion({ x: 320 - side / 2, y: 240 - side / 2, w: side, h: side }, frame, 0.15);
    for (const antialias of [true, false]) {
      const t = await timeCalls(() => resampleInto(frame, region, 224, 224, { ...FACE_CROP_RESAMPLE, antialias }, out), 300, 30);
      rows.push({
        section: 'crop',
        name: `${side} px face → 224×224 input, ${antialias ? 'antialiased (the crop path)' : 'plain bilinear'}`,
        median: t.median,
        p90: t.p90,
        unit: 'ms',
        ...(antialias ? { target: `≤ ${TARGET_MS} ms`, pass: t.median <= TARGET_MS } : {}),
        note: `CPU ${t.cpuMs.toFixed(2)} ms/call`,
      });
    }
  }
  return rows;
}
