import fs from 'node:fs';
import path from 'node:path';
import { normalizeLabel } from '../../core/labels.js';
import { createLogger } from '../../core/log.js';
import type { Label } from '../../core/types.js';
import type { Photo } from './datasets.js';
import { probePhotos, samplesOf, type FaceSample } from './photos.js';
import type { SplitName } from './split.js';

/**
 * Synthetic face crops (made by `maskwatch synth`): DIR/{class}/*.jpg and DIR/manifest.json
 * {"items":[{"file":"mask_incorrect/x.jpg","label":"mask_incorrect","source":"<photo id>"}]}.
 * They join the training split only, and only when their source photo is a training photo:
 * a crop made from a validation or test face would leak that face into training.
 */
const log = createLogger('synthetic');

interface ManifestItem {
  file: string;
  label: string;
  source: string;
}

export interface SyntheticResult {
  samples: FaceSample[];
  /** Read from the manifest, per label. */
  offered: Record<string, number>;
  /** Left out: source photo outside the training split, or not in the data at all. */
  droppedHeldOutSource: number;
  droppedUnknownSource: number;
  droppedBad: number;
}

export async function readSynthetic(dir: string, splitOf: Map<string, SplitName>, cacheDir: string | null): Promise<SyntheticResult> {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new Error(`synthetic data ${dir}: no manifest.json in it`);
  let items: ManifestItem[];
  try {
    items = (JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { items: ManifestItem[] }).items;
    if (!Array.isArray(items)) throw new Error('"items" is not a list');
  } catch (err) {
    throw new Error(`synthetic data ${manifestFile}: ${(err as Error).message}`);
  }
  const result: SyntheticResult = { samples: [], offered: {}, droppedHeldOutSource: 0, droppedUnknownSource: 0, droppedBad: 0 };
  const photos: Photo[] = [];
  const base = path.basename(path.resolve(dir));
  for (const item of items) {
    const label: Label | undefined = typeof item?.label === 'string' ? normalizeLabel(item.label) : undefined;
    const file = typeof item?.file === 'string' ? path.join(dir, item.file) : '';
    if (!label || !file || !fs.existsSync(file)) {
      result.droppedBad++;
      continue;
    }
    result.offered[label] = (result.offered[label] ?? 0) + 1;
    const split = splitOf.get(item.source);
    if (!split) {
      result.droppedUnknownSource++;
      continue;
    }
    if (split !== 'train') {
      result.droppedHeldOutSource++;
      continue;
    }
    photos.push({ photoId: `${base}/${item.file.split(path.sep).join('/')}`, file, faces: [{ label, box: null }] });
  }
  const { probes, bad } = await probePhotos(photos, cacheDir);
  result.droppedBad += bad;
  result.samples = samplesOf(photos, probes).map((s) => ({ ...s, synthetic: true }));
  log.info(
    `synthetic ${dir}: ${result.samples.length} crops join training; left out ${result.droppedHeldOutSource} from validation/test sources, ` +
      `${result.droppedUnknownSource} with a source not in the data, ${result.droppedBad} unreadable or unlabelled`,
  );
  return result;
}
