import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../core/files.js';
import { createLogger } from '../../core/log.js';
import type { Box, Label } from '../../core/types.js';
import type { Photo } from './datasets.js';

/** Opens every photo once (size + an 8×8 average hash for near-duplicate grouping) and turns faces into samples. */
const log = createLogger('datasets');

export interface PhotoProbe {
  width: number;
  height: number;
  /** 64-bit average hash of the 8×8 grey thumbnail, hex. */
  hash: string;
}

/** One labelled face crop: the unit of training and evaluation. */
export interface FaceSample {
  /** `<photoId>#<face index>`, or `synth:<file>` for synthetic crops. */
  id: string;
  photoId: string;
  file: string;
  label: Label;
  /** The face box in the picture; null when the whole picture is the face crop. */
  box: Box | null;
  /** The face's smaller side in pixels (the "≥ 32 px" rule). */
  faceSize: number;
  synthetic?: boolean;
  /** 'detector': the box is the shipped detector's, matched to the hand-drawn one (workflows/data/detector-boxes.ts). */
  boxFrom?: 'detector';
}

export async function averageHash(file: string): Promise<PhotoProbe> {
  const meta = await sharp(file).metadata();
  if (!meta.width || !meta.height) throw new Error('no picture size');
  const grey = await sharp(file).greyscale().resize(8, 8, { fit: 'fill' }).raw().toBuffer();
  const mean = grey.reduce((a, b) => a + b, 0) / grey.length;
  let hex = '';
  for (let i = 0; i < 64; i += 4) {
    let nibble = 0;
    for (let j = 0; j < 4; j++) nibble = (nibble << 1) | (grey[i + j] > mean ? 1 : 0);
    hex += nibble.toString(16);
  }
  return { width: meta.width, height: meta.height, hash: hex };
}

export async function mapPool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

type ProbeCache = Record<string, PhotoProbe & { key: string }>;

function cacheKey(file: string): string {
  const st = fs.statSync(file);
  return `${st.size}:${Math.round(st.mtimeMs)}`;
}

/**
 * Probes photos, cached in cacheDir/photo-probes.json by path + size + mtime.
 * A photo that cannot be read gets one warning line and is left out (counted in `bad`).
 */
export async function probePhotos(photos: Photo[], cacheDir: string | null): Promise<{ probes: Map<string, PhotoProbe>; bad: number }> {
  const cacheFile = cacheDir ? path.join(cacheDir, 'photo-probes.json') : null;
  let cache: ProbeCache = {};
  if (cacheFile && fs.existsSync(cacheFile)) {
    try {
      cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as ProbeCache;
    } catch {
      cache = {};
    }
  }
  const probes = new Map<string, PhotoProbe>();
  let bad = 0;
  let fresh = 0;
  await mapPool(photos, 4, async (photo) => {
    const abs = path.resolve(photo.file);
    try {
      const key = cacheKey(abs);
      const hit = cache[abs];
      if (hit && hit.key === key) {
        probes.set(photo.photoId, { width: hit.width, height: hit.height, hash: hit.hash });
        return;
      }
      const probe = await averageHash(abs);
      cache[abs] = { ...probe, key };
      probes.set(photo.photoId, probe);
      fresh++;
    } catch (err) {
      log.warn(`picture ${photo.file}: cannot be read (${(err as Error).message.split('\n')[0]}); skipped`);
      bad++;
    }
  });
  if (cacheFile && fresh > 0) writeFileAtomic(cacheFile, JSON.stringify(cache));
  return { probes, bad };
}

/** The face samples of probed photos; boxes clipped to the picture, empty ones dropped. */
export function samplesOf(photos: Photo[], probes: Map<string, PhotoProbe>): FaceSample[] {
  const samples: FaceSample[] = [];
  for (const photo of photos) {
    const probe = probes.get(photo.photoId);
    if (!probe) continue;
    photo.faces.forEach((face, i) => {
      let box: Box | null = null;
      let faceSize = Math.min(probe.width, probe.height);
      if (face.box) {
        const x0 = Math.max(0, face.box.x);
        const y0 = Math.max(0, face.box.y);
        const x1 = Math.min(probe.width, face.box.x + face.box.w);
        const y1 = Math.min(probe.height, face.box.y + face.box.h);
        if (x1 - x0 < 1 || y1 - y0 < 1) return;
        box = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
        faceSize = Math.min(box.w, box.h);
      }
      samples.push({ id: `${photo.photoId}#${i}`, photoId: photo.photoId, file: photo.file, label: face.label, box, faceSize });
    });
  }
  return samples;
}
