/**
 * Caffe (prototxt + caffemodel) → ONNX, for the layer types of the AIZOO face-mask SSD: Convolution, ReLU,
 * Pooling (MAX), Permute, Reshape, Concat, Sigmoid. Caffe and ONNX are both NCHW, so layers map one to one.
 * The input's height and width are symbolic by default (the net is fully convolutional and its Reshapes copy
 * the batch and infer the anchor count), or fixed by `inputSize`. Shapes are also tracked at one concrete size
 * (the prototxt's, or `inputSize`) to check weights against channel counts and to report output shapes.
 */
import { GraphBuilder, type Dims } from './builder.js';
import { numbers, type CaffeBlob, type CaffeLayer, type CaffeNet, type TextMessage } from './caffe-model.js';
import { GraphConvertError } from './graph-weights.js';

export { GraphConvertError } from './graph-weights.js';
export { readCaffeModel } from './caffe-model.js';

export interface CaffeConvertOptions {
  graphName?: string;
  /** Fixes the input's spatial size; without it height and width are symbolic ('height', 'width'). */
  inputSize?: { height: number; width: number };
}

export interface CaffeConvertResult {
  onnx: Uint8Array;
  /** Declared ONNX dims (strings are symbolic). */
  inputs: Array<{ name: string; dims: Dims }>;
  /** Declared ONNX dims, and the concrete shape at the reference input size. */
  outputs: Array<{ name: string; dims: Dims; shape: number[] }>;
  /** The input shape the concrete output shapes were computed for. */
  referenceInputShape: number[];
  /** Weights whose magnitude was below float32's normal range, written as 0 (see flushDenormals). */
  flushedDenormals: number;
}

/** A converted blob: its ONNX tensor, its shape at the reference size, and which dims follow the input's spatial size. */
interface Value {
  name: string;
  shape: number[];
  spatial: boolean[];
}

const SUPPORTED = ['Convolution', 'ReLU', 'Pooling', 'Permute', 'Reshape', 'Concat', 'Sigmoid'];
/** The parameter block each layer type may carry and the fields the converter understands (or may ignore: fillers only matter for training). */
const PARAM_FIELDS: Record<string, [string, string[]] | undefined> = {
  Convolution: ['convolution_param', ['num_output', 'bias_term', 'pad', 'pad_h', 'pad_w', 'kernel_size', 'kernel_h', 'kernel_w', 'stride', 'stride_h', 'stride_w', 'dilation', 'group', 'engine', 'weight_filler', 'bias_filler']],
  ReLU: ['relu_param', ['negative_slope', 'engine']],
  Pooling: ['pooling_param', ['pool', 'kernel_size', 'kernel_h', 'kernel_w', 'stride', 'stride_h', 'stride_w', 'pad', 'pad_h', 'pad_w', 'round_mode', 'engine']],
  Permute: ['permute_param', ['order']],
  Reshape: ['reshape_param', ['shape']],
  Concat: ['concat_param', ['axis', 'concat_dim']],
  Sigmoid: ['sigmoid_param', ['engine']],
};
const LAYER_FIELDS = ['name', 'type', 'bottom', 'top', 'param'];
const MIN_NORMAL_FLOAT32 = 2 ** -126;

export function convertCaffeModel(net: CaffeNet, weights: Map<string, CaffeBlob[]>, opts: CaffeConvertOptions = {}): CaffeConvertResult {
  return new CaffeConverter(net, weights, opts).convert();
}

class CaffeConverter {
  private readonly b: GraphBuilder;
  private readonly blobs = new Map<string, Value>();
  private readonly consumed = new Set<string>();
  private readonly produced: string[] = [];
  private flushed = 0;

  constructor(
    private readonly net: CaffeNet,
    private readonly weights: Map<string, CaffeBlob[]>,
    private readonly opts: CaffeConvertOptions,
  ) {
    this.b = new GraphBuilder(opts.graphName ?? net.name, 13);
  }

  convert(): CaffeConvertResult {
    if (this.net.inputs.length !== 1) throw new GraphConvertError(`caffe: expected one input, the net declares ${this.net.inputs.length}`);
    const input = this.net.inputs[0]!;
    if (input.shape.length !== 4) throw new GraphConvertError(`caffe: input ${input.name} must be 4-D NCHW, got [${input.shape}]`);
    const fixed = this.opts.inputSize;
    const shape = fixed ? [input.shape[0]!, input.shape[1]!, fixed.height, fixed.width] : input.shape;
    const dims: Dims = fixed ? shape : [shape[0]!, shape[1]!, 'height', 'width'];
    this.b.input(input.name, dims);
    this.blobs.set(input.name, { name: input.name, shape, spatial: [false, false, !fixed, !fixed] });
    for (const layer of this.net.layers) this.convertLayer(layer);
    const finals = [...new Set(this.produced)].filter((blob) => !this.consumed.has(blob));
    const outputs = finals.map((blob) => {
      const v = this.blobs.get(blob)!;
      this.b.node('Identity', [v.name], [blob]);
      const outDims: Dims = v.shape.map((d, i) => (v.spatial[i] ? `${blob}_d${i}` : d));
      this.b.output(blob, outDims);
      return { name: blob, dims: outDims, shape: v.shape };
    });
    return { onnx: this.b.toBytes('maskwatch caffe-convert'), inputs: [{ name: input.name, dims }], outputs, referenceInputShape: shape, flushedDenormals: this.flushed };
  }

  private fail(layer: CaffeLayer, message: string): never {
    throw new GraphConvertError(`layer ${layer.name} (${layer.type}): ${message}`);
  }

  private convertLayer(layer: CaffeLayer): void {
    try {
      this.convertLayerUnchecked(layer);
    } catch (err) {
      // Parameter helpers do not know the layer: name it once.
      if (err instanceof GraphConvertError && !err.message.startsWith('layer ')) this.fail(layer, err.message);
      throw err;
    }
  }

  private convertLayerUnchecked(layer: CaffeLayer): void {
    if (!SUPPORTED.includes(layer.type)) this.fail(layer, `unsupported Caffe layer type; the converter handles ${SUPPORTED.join(', ')}`);
    const p = this.paramsOf(layer);
    const ins = layer.bottom.map((blob) => {
      const v = this.blobs.get(blob);
      if (!v) this.fail(layer, `input blob ${blob} is not produced by any earlier layer`);
      this.consumed.add(blob);
      return v;
    });
    if (layer.top.length !== 1) this.fail(layer, `expected one top blob, got ${layer.top.length}`);
    if (layer.type !== 'Concat' && ins.length !== 1) this.fail(layer, `expected one bottom blob, got ${ins.length}`);
    const x = ins[0]!;
    const out = this.b.uniqueName(`caffe/${layer.name}`);
    let v: Value;
    switch (layer.type) {
      case 'Convolution':
        v = this.convolution(layer, p, x, out);
        break;
      case 'Pooling':
        v = this.pooling(layer, p, x, out);
        break;
      case 'ReLU': {
        const slope = single(p, 'negative_slope', 0);
        if (slope === 0) this.b.node('Relu', [x.name], [out], {}, layer.name);
        else this.b.node('LeakyRelu', [x.name], [out], { alpha: { float: slope } }, layer.name);
        v = { ...x, name: out };
        break;
      }
      case 'Sigmoid':
        this.b.node('Sigmoid', [x.name], [out], {}, layer.name);
        v = { ...x, name: out };
        break;
      case 'Permute': {
        const order = numbers(p, 'order');
        const rank = x.shape.length;
        const perm = [...order, ...[...Array(rank).keys()].filter((a) => !order.includes(a))];
        if (perm.length !== rank || new Set(perm).size !== rank || perm.some((a) => a < 0 || a >= rank)) this.fail(layer, `order [${order}] is not a permutation of ${rank} axes`);
        this.b.node('Transpose', [x.name], [out], { perm }, layer.name);
        v = { name: out, shape: perm.map((a) => x.shape[a]!), spatial: perm.map((a) => x.spatial[a]!) };
        break;
      }
      case 'Reshape':
        v = this.reshape(layer, p, x, out);
        break;
      case 'Concat':
        v = this.concat(layer, p, ins, out);
        break;
      default:
        this.fail(layer, 'unsupported Caffe layer type');
    }
    const top = layer.top[0]!;
    this.blobs.set(top, v);
    this.consumed.delete(top); // an in-place layer's result is a new version of the blob, not yet consumed
    this.produced.push(top);
  }

  /** The layer's parameter block; any field the converter would ignore is an error rather than a silent mismatch. */
  private paramsOf(layer: CaffeLayer): TextMessage {
    const [block, fields] = PARAM_FIELDS[layer.type] ?? ['', []];
    for (const key of Object.keys(layer.params))
      if (!LAYER_FIELDS.includes(key) && key !== block) this.fail(layer, `field ${key} is not supported`);
    const blocks = layer.params[block] ?? [];
    if (blocks.length > 1) this.fail(layer, `${block} is given ${blocks.length} times`);
    const p = (blocks[0] ?? {}) as TextMessage;
    for (const key of Object.keys(p)) if (!fields.includes(key)) this.fail(layer, `${block}.${key} is not supported`);
    return p;
  }

  private convolution(layer: CaffeLayer, p: TextMessage, x: Value, out: string): Value {
    const numOutput = single(p, 'num_output', 0);
    if (!(numOutput > 0)) this.fail(layer, 'convolution_param.num_output must be > 0');
    const group = single(p, 'group', 1);
    const hasBias = (p.bias_term?.[0] ?? true) !== false;
    const k = pair(p, 'kernel_size', 'kernel_h', 'kernel_w', undefined);
    if (!k) this.fail(layer, 'convolution_param needs kernel_size (or kernel_h and kernel_w)');
    const s = pair(p, 'stride', 'stride_h', 'stride_w', 1)!;
    const pad = pair(p, 'pad', 'pad_h', 'pad_w', 0)!;
    const d = pair(p, 'dilation', 'dilation', 'dilation', 1)!;
    const inC = x.shape[1]!;
    if (x.shape.length !== 4) this.fail(layer, `needs a 4-D NCHW input, got [${x.shape}]`);
    if (inC % group || numOutput % group) this.fail(layer, `group ${group} does not divide ${inC} input / ${numOutput} output channels`);
    const blobs = this.weights.get(layer.name) ?? [];
    if (blobs.length !== (hasBias ? 2 : 1)) this.fail(layer, `the caffemodel has ${blobs.length} weight blobs for it, expected ${hasBias ? 2 : 1} (weights${hasBias ? ' and bias' : ''})`);
    const wShape = [numOutput, inC / group, k[0], k[1]];
    const w = blobs[0]!;
    if (w.data.length !== wShape.reduce((a, b) => a * b, 1) || (w.shape.length === 4 && w.shape.some((v, i) => v !== wShape[i])))
      this.fail(layer, `weights of shape [${w.shape}] do not fit [${wShape}] (output, input/group, kh, kw)`);
    const inputs = [x.name, this.b.initializer(this.b.uniqueName(`${out}/W`), this.flushDenormals(w.data), wShape)];
    if (hasBias) {
      const bias = blobs[1]!;
      if (bias.data.length !== numOutput) this.fail(layer, `bias has ${bias.data.length} values for ${numOutput} outputs`);
      inputs.push(this.b.initializer(this.b.uniqueName(`${out}/B`), this.flushDenormals(bias.data), [numOutput]));
    }
    this.b.node('Conv', inputs, [out], { kernel_shape: k, strides: s, dilations: d, pads: [pad[0], pad[1], pad[0], pad[1]], group }, layer.name);
    const size = (i: 0 | 1) => Math.floor((x.shape[2 + i]! + 2 * pad[i] - (d[i] * (k[i] - 1) + 1)) / s[i]) + 1;
    return { name: out, shape: [x.shape[0]!, numOutput, size(0), size(1)], spatial: x.spatial };
  }

  /**
   * Denormal weights (|w| < 2^-126; the AIZOO SSD's first conv has one dead filter of them) change no output by more
   * than ~1e-38 but make x86 float units take a slow path: ORT's NCHWc conv kernel ran that layer 10× slower.
   */
  private flushDenormals(data: Float32Array): Float32Array {
    let copy: Float32Array | undefined;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v !== 0 && Math.abs(v) < MIN_NORMAL_FLOAT32) {
        copy ??= Float32Array.from(data);
        copy[i] = 0;
        this.flushed++;
      }
    }
    return copy ?? data;
  }

  /** Caffe rounds pooled sizes up by default (round_mode CEIL): ONNX ceil_mode 1, which also holds for symbolic sizes. */
  private pooling(layer: CaffeLayer, p: TextMessage, x: Value, out: string): Value {
    const pool = String(p.pool?.[0] ?? 'MAX');
    if (pool !== 'MAX' && pool !== '0') this.fail(layer, `pool ${pool} is not supported (only MAX)`);
    const k = pair(p, 'kernel_size', 'kernel_h', 'kernel_w', undefined);
    if (!k) this.fail(layer, 'pooling_param needs kernel_size (or kernel_h and kernel_w)');
    const s = pair(p, 'stride', 'stride_h', 'stride_w', 1)!;
    const pad = pair(p, 'pad', 'pad_h', 'pad_w', 0)!;
    const round = String(p.round_mode?.[0] ?? 'CEIL');
    if (round !== 'CEIL' && round !== 'FLOOR') this.fail(layer, `round_mode ${round} is not supported`);
    const ceil = round === 'CEIL';
    // Caffe drops a last window that would start in the padding; ONNX's ceil mode does not everywhere: keep pad 0.
    if (ceil && (pad[0] || pad[1])) this.fail(layer, 'MAX pooling with CEIL rounding and padding is not supported');
    if (x.shape.length !== 4) this.fail(layer, `needs a 4-D NCHW input, got [${x.shape}]`);
    this.b.node('MaxPool', [x.name], [out], { kernel_shape: k, strides: s, pads: [pad[0], pad[1], pad[0], pad[1]], ceil_mode: ceil ? 1 : 0 }, layer.name);
    const size = (i: 0 | 1) => (ceil ? Math.ceil : Math.floor)((x.shape[2 + i]! + 2 * pad[i] - k[i]) / s[i]) + 1;
    return { name: out, shape: [x.shape[0]!, x.shape[1]!, size(0), size(1)], spatial: x.spatial };
  }

  /** Caffe's 0 (copy the input dim) and -1 (infer) mean the same in ONNX Reshape, so symbolic sizes pass through. */
  private reshape(layer: CaffeLayer, p: TextMessage, x: Value, out: string): Value {
    const shapes = p.shape ?? [];
    if (shapes.length !== 1) this.fail(layer, 'reshape_param needs one shape');
    const target = numbers(shapes[0] as TextMessage, 'dim');
    if (target.filter((d) => d === -1).length > 1 || target.some((d) => d < -1)) this.fail(layer, `shape [${target}] is not valid`);
    const shapeName = this.b.initializer(this.b.uniqueName(`${out}/shape`), target, [target.length], 'int64');
    this.b.node('Reshape', [x.name, shapeName], [out], {}, layer.name);
    const total = x.shape.reduce((a, b) => a * b, 1);
    const resolved = target.map((d, i) => (d === 0 ? x.shape[i]! : d));
    const known = resolved.reduce((a, b) => (b > 0 ? a * b : a), 1);
    const shape = resolved.map((d) => (d === -1 ? total / known : d));
    if (!Number.isInteger(total / known) || shape.reduce((a, b) => a * b, 1) !== total) this.fail(layer, `cannot reshape [${x.shape}] to [${target}]`);
    const anySpatial = x.spatial.some(Boolean);
    return { name: out, shape, spatial: target.map((d, i) => (d === 0 ? x.spatial[i]! : d === -1 ? anySpatial : false)) };
  }

  private concat(layer: CaffeLayer, p: TextMessage, ins: Value[], out: string): Value {
    const rank = ins[0]!.shape.length;
    let axis = single(p, 'axis', single(p, 'concat_dim', 1));
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) this.fail(layer, `axis ${axis} is out of range for rank ${rank}`);
    for (const v of ins)
      if (v.shape.length !== rank || v.shape.some((d, i) => i !== axis && d !== ins[0]!.shape[i])) this.fail(layer, `inputs [${ins.map((i) => `[${i.shape}]`).join(' ')}] differ off axis ${axis}`);
    this.b.node('Concat', ins.map((v) => v.name), [out], { axis }, layer.name);
    const shape = ins[0]!.shape.map((d, i) => (i === axis ? ins.reduce((a, v) => a + v.shape[i]!, 0) : d));
    const spatial = ins[0]!.spatial.map((f, i) => (i === axis ? ins.some((v) => v.spatial[i]) : f));
    return { name: out, shape, spatial };
  }
}

function single(p: TextMessage, field: string, fallback: number): number {
  const v = numbers(p, field);
  if (v.length > 1) throw new GraphConvertError(`field ${field}: expected one value, got ${v.length}`);
  return v[0] ?? fallback;
}

/** A (height, width) parameter given as one or two repeated values, or as separate _h/_w fields. */
function pair(p: TextMessage, field: string, hField: string, wField: string, fallback: number | undefined): [number, number] | undefined {
  const both = numbers(p, field);
  if (both.length > 2) throw new GraphConvertError(`field ${field}: expected 1 or 2 values, got ${both.length}`);
  const h = field === hField ? undefined : numbers(p, hField)[0];
  const w = field === wField ? undefined : numbers(p, wField)[0];
  if (h !== undefined || w !== undefined) {
    if (both.length) throw new GraphConvertError(`fields ${field} and ${hField}/${wField} are both given`);
    if (h === undefined || w === undefined) throw new GraphConvertError(`${hField} and ${wField} must be given together`);
    return [h, w];
  }
  if (both.length) return [both[0]!, both[1] ?? both[0]!];
  return fallback === undefined ? undefined : [fallback, fallback];
}
