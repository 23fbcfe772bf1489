/**
 * An int8 model whose first convolution reads the 3-channel picture, rewritten to read 4 channels: the picture plus a
 * channel of zeros, with zero weights for it. The outputs are the same numbers (the extra channel adds 0 to every
 * integer sum; checked bit for bit on the SSD in test/onnx-pad-stem-channels.test.ts).
 *
 * Why: ONNX Runtime's fast symmetric int8 convolution on x64 (MlasConvSym, every AVX2 / AVX-VNNI / AVX-512 variant)
 * needs input channels in a multiple of 4; with 3 the stem falls back to im2col and a generic GEMM. On the SSD's
 * 260×260 input that stem was 2.5 of the model's 6.3 ms here, 1.5 ms padded (docs/BENCHMARKS.md, 2026-12-04). ONNX
 * Runtime's own `Pad` on the channel axis costs more than it saves, so the caller feeds the zero channel itself.
 */
import type onnxProto from 'onnx-proto';
import { decodeModel, encodeModel, onnx } from './builder.js';

type Graph = onnxProto.onnx.IGraphProto;
type Tensor = onnxProto.onnx.ITensorProto;

export interface PaddedStem {
  model: Uint8Array;
  /** The input's channel count now (the old one rounded up to the multiple). */
  channels: number;
}

/**
 * The padded model, or null when the graph is not the pattern this handles: an NCHW input whose every use is one
 * QuantizeLinear → DequantizeLinear → Conv (group 1) with int8 weights from an initializer (a QDQ int8 stem), or
 * whose channel count is already a multiple.
 */
export function padQuantizedStemChannels(bytes: Uint8Array, multiple = 4): PaddedStem | null {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = decodeModel(bytes);
  } catch {
    return null;
  }
  const graph = model.graph;
  const input = graph?.input?.[0];
  const channelDim = input?.type?.tensorType?.shape?.dim?.[1];
  const channels = Number(channelDim?.dimValue ?? 0);
  if (!graph || !input?.name || !channelDim || !(channels > 0) || channels % multiple === 0) return null;
  const weight = stemWeight(graph, input.name);
  if (!weight) return null;
  const dims = weight.dims!.map(Number);
  if (dims.length !== 4 || dims[1] !== channels) return null;
  const padded = Math.ceil(channels / multiple) * multiple;
  const [out, , kh, kw] = dims as [number, number, number, number];
  const from = int8Values(weight);
  if (!from || from.length !== out * channels * kh * kw) return null;
  const to = new Int8Array(out * padded * kh * kw);
  const perIn = channels * kh * kw;
  for (let o = 0; o < out; o++) to.set(from.subarray(o * perIn, (o + 1) * perIn), o * padded * kh * kw);
  weight.rawData = new Uint8Array(to.buffer);
  weight.int32Data = [];
  weight.dims = [out, padded, kh, kw];
  channelDim.dimValue = padded;
  channelDim.dimParam = '';
  return { model: encodeModel(model), channels: padded };
}

/** The int8 weight initializer of the QDQ stem that is the input's only reader, if that is what the graph holds. */
function stemWeight(graph: Graph, inputName: string): Tensor | null {
  const nodes = graph.node ?? [];
  const readers = (name: string) => nodes.filter((n) => (n.input ?? []).includes(name));
  const only = (name: string, op: string) => {
    const r = readers(name);
    return r.length === 1 && r[0]!.opType === op ? r[0]! : null;
  };
  const quantize = only(inputName, 'QuantizeLinear');
  const dequantize = quantize && only(quantize.output![0]!, 'DequantizeLinear');
  const conv = dequantize && only(dequantize.output![0]!, 'Conv');
  if (!conv || conv.input![0] !== dequantize.output![0]) return null;
  const group = conv.attribute?.find((a) => a.name === 'group');
  if (group && Number(group.i) !== 1) return null;
  const weightDq = nodes.find((n) => n.output?.[0] === conv.input![1] && n.opType === 'DequantizeLinear');
  const weight = weightDq && graph.initializer?.find((t) => t.name === weightDq.input![0]);
  if (!weight || weight.dataType !== onnx.TensorProto.DataType.INT8) return null;
  return weight;
}

function int8Values(t: Tensor): Int8Array | null {
  if (t.rawData && t.rawData.length > 0) return new Int8Array(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength).slice();
  if (t.int32Data && t.int32Data.length > 0) return Int8Array.from(t.int32Data);
  return null;
}
