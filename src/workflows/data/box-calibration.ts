/**
 * Fits the SSD's box calibration (src/vision/ssd-detector.ts BoxCalibration) on training photos: every hand-drawn face
 * matched to a raw detection (IoU ≥ 0.3), and the median offsets and size ratios of those pairs. Medians, so a few odd
 * boxes do not move it; training split only, so validation and test stay unseen.
 */
import { greedyMatch } from '../../core/geometry.js';
import { createFaceDetector } from '../../vision/create-face-detector.js';
import type { DetectorSettings } from '../../vision/start-face-detector.js';
import { readImageFile } from '../../vision/image-decode.js';
import type { BoxCalibration } from '../../vision/ssd-detector.js';
import type { FaceSample } from './photos.js';

export async function fitBoxCalibration(train: FaceSample[], settings: DetectorSettings): Promise<BoxCalibration & { pairs: number; photos: number }> {
  const byFile = new Map<string, FaceSample[]>();
  for (const s of train) if (s.box && !s.synthetic) byFile.set(s.file, [...(byFile.get(s.file) ?? []), s]);
  const detector = await createFaceDetector({ ...settings, minFaceSize: 0, maxFaces: 100 }, { intraOpNumThreads: 2, rawBoxes: true });
  const d: number[][] = [[], [], [], []];
  try {
    for (const [file, faces] of byFile) {
      const image = await readImageFile(file);
      const found = (await detector.detect({ ...image, seq: 0, capturedAt: 0 })).map((f) => f.box);
      const match = greedyMatch(faces.map((f) => f.box!), found, 0.3);
      faces.forEach((f, i) => {
        const m = match.get(i);
        if (!m) return;
        const b = f.box!;
        const x = found[m.index]!;
        d[0]!.push((x.x + x.w / 2 - (b.x + b.w / 2)) / b.w);
        d[1]!.push((x.y + x.h / 2 - (b.y + b.h / 2)) / b.h);
        d[2]!.push(x.w / b.w);
        d[3]!.push(x.h / b.h);
      });
    }
  } finally {
    await detector.close();
  }
  if (d[0]!.length < 20) throw new Error(`box calibration: only ${d[0]!.length} matched faces on ${byFile.size} training photos; need 20`);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { dx: r(median(d[0]!)), dy: r(median(d[1]!)), rw: r(median(d[2]!)), rh: r(median(d[3]!)), pairs: d[0]!.length, photos: byFile.size };
}
