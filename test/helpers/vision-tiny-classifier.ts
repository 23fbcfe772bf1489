/**
 * A tiny real ONNX "mask classifier" for tests, built with GraphBuilder: mean colour of the crop → MatMul → Softmax.
 * With the default weights a reddish crop is `no_mask`, a greenish one `mask`, a bluish one `mask_incorrect`.
 * Exercises model-dir loading, sha256 and shape checks for real, without the trained model.
 */
import path from 'node:path';
import { writeFileAtomic } from '../../src/core/files.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { fileEntry, writeModelCard, type ModelCard } from '../../src/vision/model-card.js';

export interface TinyModelOptions {
  /** Input side written into the ONNX graph (default 224). */
  onnxSize?: number;
  /** Input side written into the card (default = onnxSize). */
  cardSize?: number;
  /** End with Softmax (probabilities) or leave logits. */
  softmax?: boolean;
  int8?: boolean;
}

export function tinyClassifierOnnx(size: number, softmax = true): Uint8Array {
  const b = new GraphBuilder('tiny_classifier');
  b.input('input', ['batch', size, size, 3]);
  const [mean] = b.node('ReduceMean', ['input'], 1, { axes: [1, 2], keepdims: 0 });
  // labels order: mask, no_mask, mask_incorrect ← green, red, blue
  const w = b.initializer('W', Float32Array.from([0, 8, 0, 8, 0, 0, 0, 0, 8]), [3, 3]);
  const [logits] = b.node('MatMul', [mean!, w], 1);
  b.node(softmax ? 'Softmax' : 'Identity', [logits!], ['probs'], softmax ? { axis: -1 } : {});
  b.output('probs', ['batch', 3]);
  return b.toBytes();
}

export function writeTinyModelDir(dir: string, opts: TinyModelOptions = {}): ModelCard {
  const size = opts.onnxSize ?? 224;
  writeFileAtomic(path.join(dir, 'classifier.onnx'), tinyClassifierOnnx(size, opts.softmax ?? true));
  if (opts.int8) writeFileAtomic(path.join(dir, 'classifier.int8.onnx'), tinyClassifierOnnx(size, opts.softmax ?? true));
  const card: ModelCard = {
    name: 'tiny-test',
    created: new Date(0).toISOString(),
    labels: ['mask', 'no_mask', 'mask_incorrect'],
    input: { width: opts.cardSize ?? size, height: opts.cardSize ?? size, channels: 3, layout: 'NHWC', normalization: 'x/127.5-1', inputName: 'input', outputName: 'probs' },
    cropMargin: 0.15,
    architecture: 'mean colour → dense (test model)',
    base: { name: 'none', alpha: 0, sha256: '', licence: 'MIT' },
    files: { float: fileEntry(dir, 'classifier.onnx'), ...(opts.int8 ? { int8: fileEntry(dir, 'classifier.int8.onnx') } : {}) },
    licence: 'MIT',
  };
  writeModelCard(dir, card);
  return card;
}
