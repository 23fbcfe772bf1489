/**
 * Model inputs of labelled faces, in batches, through the one crop path (src/vision/face-crop.ts): each photo is
 * decoded once for all its faces in a batch (jobs are taken in photo order), plain (k = 0) or augmented crops.
 */
import type { RgbImage } from '../../core/image.js';
import { writeFaceInput } from '../../vision/face-crop.js';
import { readImageFile } from '../../vision/image-decode.js';
import { sampleView } from '../train/augment.js';
import type { FaceSample } from './photos.js';

export interface FaceJob {
  sample: FaceSample;
  /** 0: plain crop; k ≥ 1: augmentation k. */
  aug: number;
}

export interface FaceInputBatch {
  /** Indices into the jobs given, in the order of the batch rows. */
  indices: number[];
  /** [indices.length, size, size, 3]; reused between batches, so copy what you keep. */
  inputs: Float32Array;
}

/** Batches of model inputs for `jobs`, photo by photo; a photo that cannot be decoded or cropped throws one line naming it. */
export async function* faceInputBatches(jobs: FaceJob[], opts: { inputSize: number; margin: number; batchSize: number }): AsyncGenerator<FaceInputBatch> {
  const size = opts.inputSize;
  const per = size * size * 3;
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[a]!.sample.file.localeCompare(jobs[b]!.sample.file) || jobs[a]!.aug - jobs[b]!.aug);
  const batch = new Float32Array(opts.batchSize * per);
  let decoded = new Map<string, Promise<RgbImage>>();
  for (let b = 0; b < order.length; b += opts.batchSize) {
    const indices = order.slice(b, b + opts.batchSize);
    const current = new Map<string, Promise<RgbImage>>();
    for (const i of indices) {
      const file = jobs[i]!.sample.file;
      if (!current.has(file)) current.set(file, decoded.get(file) ?? readImageFile(file));
    }
    decoded = current;
    await Promise.all(
      indices.map(async (i, row) => {
        const { sample, aug } = jobs[i]!;
        try {
          writeFaceInput(await sampleView(sample, await current.get(sample.file)!, opts.margin, aug), size, batch, row * per);
        } catch (err) {
          throw new Error(`picture ${sample.file}: cannot crop ${sample.id} (${(err as Error).message})`);
        }
      }),
    );
    yield { indices, inputs: batch.subarray(0, indices.length * per) };
  }
}

/** Every job's input as its own array, in job order (for calibration and check sets). */
export async function faceInputList(jobs: FaceJob[], opts: { inputSize: number; margin: number }): Promise<Float32Array[]> {
  const out = new Array<Float32Array>(jobs.length);
  const per = opts.inputSize * opts.inputSize * 3;
  for await (const batch of faceInputBatches(jobs, { ...opts, batchSize: 16 })) batch.indices.forEach((i, row) => (out[i] = batch.inputs.slice(row * per, (row + 1) * per)));
  return out;
}
