/** Runs a TF.js model and its ONNX export on the same random inputs and reports the largest output difference. */
import * as tf from '@tensorflow/tfjs';
import { loadOrt, openSession } from './session.js';

export interface ExportCheck {
  maxAbsDiff: number;
  inputs: number;
  outputShape: number[];
}

/** Random inputs in [-1, 1] (the x/127.5−1 range), `count` single-image batches plus one batch of two. */
export async function checkOnnxAgainstTfjs(model: tf.LayersModel, onnxBytes: Uint8Array, count = 2, seed = 1): Promise<ExportCheck> {
  const ort = await loadOrt();
  const session = await openSession(onnxBytes);
  const shape = model.inputs[0]!.shape.slice(1).map((d) => {
    if (typeof d !== 'number') throw new Error(`model ${model.name}: input shape ${JSON.stringify(model.inputs[0]!.shape)} must be fixed to check the export`);
    return d;
  });
  let maxAbsDiff = 0;
  let outputShape: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const batch = i === count - 1 && count > 1 ? 2 : 1;
      const x = tf.randomUniform([batch, ...shape], -1, 1, 'float32', seed + i);
      const expected = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
      const data = x.dataSync() as Float32Array;
      x.dispose();
      const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', data, [batch, ...shape]) };
      const out = (await session.run(feeds))[session.outputNames[0]!]!;
      outputShape = [...out.dims];
      const got = out.data as Float32Array;
      if (got.length !== expected.length) throw new Error(`ONNX output has ${got.length} values, TF.js ${expected.length}`);
      for (let j = 0; j < got.length; j++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[j]! - expected[j]!));
    }
  } finally {
    await session.release();
  }
  return { maxAbsDiff, inputs: count, outputShape };
}
