/**
 * TF.js layers model → ONNX (opset 13). The graph input stays NHWC like TF.js; it is transposed to NCHW once and every
 * rank-4 tensor inside is NCHW. BatchNormalization after a conv is folded into the conv weights, and a ZeroPadding2D
 * feeding a 'valid' conv becomes that conv's pads.
 */
import { postOrder } from '../core/graph-order.js';
import * as tf from '@tensorflow/tfjs';
import { GraphBuilder } from './builder.js';

export interface LayersExportOptions {
  name?: string;
  inputName?: string;
  outputName?: string;
}

export class UnsupportedLayerError extends Error {}

type ST = tf.SymbolicTensor;
type Config = Record<string, unknown>;

/** An emitted tensor: rank-4 ones are NCHW. `pads` marks a ZeroPadding2D not yet applied (its conv takes it). */
interface Emitted {
  name: string;
  rank: number;
  pads?: [number, number, number, number];
}

const IDENTITY_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
const CONV_LAYERS = new Set(['Conv2D', 'DepthwiseConv2D']);
/** NHWC axis → NCHW axis. */
const NCHW_AXIS: Record<number, number> = { 0: 0, 1: 2, 2: 3, 3: 1, [-1]: 1, [-2]: 3, [-3]: 2 };

export function layersModelToOnnx(model: tf.LayersModel, opts: LayersExportOptions = {}): Uint8Array {
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'probs';
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw new UnsupportedLayerError(`model ${model.name}: only one input and one output are supported (has ${model.inputs.length} and ${model.outputs.length})`);
  const b = new GraphBuilder(opts.name ?? model.name, 13);
  const exporter = new LayersExporter(b);

  const inShape = model.inputs[0]!.shape;
  const graphIn = b.input(inputName, ['batch', ...inShape.slice(1).map((d, i) => d ?? `in_dim${i + 1}`)]);
  let first: Emitted = { name: graphIn, rank: inShape.length };
  if (inShape.length === 4) first = { name: b.node('Transpose', [graphIn], [b.uniqueName('input_nchw')], { perm: [0, 3, 1, 2] })[0]!, rank: 4 };

  let out = exporter.run(model, [first]);
  if (out.rank === 4) out = { name: b.node('Transpose', [out.name], [b.uniqueName('output_nhwc')], { perm: [0, 2, 3, 1] })[0]!, rank: 4 };
  b.node('Identity', [out.name], [outputName]);
  const outShape = model.outputs[0]!.shape;
  b.output(outputName, ['batch', ...outShape.slice(1).map((d, i) => d ?? `out_dim${i + 1}`)]);
  return b.toBytes('maskwatch-layers-export');
}

class Scope {
  readonly emitted = new Map<number, Emitted>();
  readonly consumers = new Map<number, ST[]>();
}

class LayersExporter {
  private readonly constants = new Map<string, string>();

  constructor(private readonly b: GraphBuilder) {}

  /** Emits the graph of `model` with its inputs bound to `inputs`; returns its (single) output. */
  run(model: tf.LayersModel, inputs: Emitted[], outputIndex = 0): Emitted {
    const scope = new Scope();
    model.inputs.forEach((st, i) => scope.emitted.set(st.id, inputs[i]!));
    const order = topoOrder(model.outputs);
    for (const st of order) for (const inp of st.inputs ?? []) scope.consumers.set(inp.id, [...(scope.consumers.get(inp.id) ?? []), st]);
    for (const st of model.outputs) scope.consumers.set(st.id, [...(scope.consumers.get(st.id) ?? []), st]);
    for (const st of order) if (!scope.emitted.has(st.id)) scope.emitted.set(st.id, this.emit(st, scope));
    const out = scope.emitted.get(model.outputs[outputIndex]!.id)!;
    if (out.pads) throw new UnsupportedLayerError(`model ${model.name}: output is a pending ZeroPadding2D`);
    return out;
  }

  private emit(st: ST, scope: Scope): Emitted {
    const layer = st.sourceLayer;
    const cls = layer.getClassName();
    const ins = (st.inputs ?? []).map((i) => scope.emitted.get(i.id)!);
    if (layer instanceof tf.LayersModel) return this.run(layer, ins, st.outputTensorIndex ?? 0);
    if (ins.some((e) => e.pads) && !CONV_LAYERS.has(cls)) throw new Error(`internal: pending padding consumed by ${cls}`);
    const cfg = layer.getConfig() as Config;
    const where = `layer '${layer.name}' (${cls})`;
    if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') throw new UnsupportedLayerError(`${where}: only channels_last is supported`);
    const x = ins[0]!;
    const inShape = st.inputs?.[0]?.shape ?? [];

    switch (cls) {
      case 'InputLayer':
        throw new UnsupportedLayerError(`${where}: a second input layer is not supported`);
      case 'Conv2D':
      case 'DepthwiseConv2D':
        return this.conv(layer, cfg, x, inShape, st, scope, where);
      case 'BatchNormalization':
        return this.batchNorm(layer, cfg, x, where);
      case 'ZeroPadding2D': {
        const [[t, bo], [l, r]] = normPadding(cfg.padding);
        const users = scope.consumers.get(st.id) ?? [];
        const foldable = users.length === 1 && CONV_LAYERS.has(users[0]!.sourceLayer.getClassName()) && users[0]!.sourceLayer.getConfig().padding === 'valid';
        if (foldable) return { name: x.name, rank: 4, pads: [t, l, bo, r] };
        const pads = this.b.initializer(this.b.uniqueName(`${layer.name}/pads`), [0, 0, t, l, 0, 0, bo, r], [8], 'int64');
        return { name: this.node('Pad', [x.name, pads], layer.name), rank: 4 };
      }
      case 'ReLU': {
        const max = cfg.maxValue as number | null | undefined;
        return { name: max == null ? this.node('Relu', [x.name], layer.name) : this.clip(x.name, 0, max, layer.name), rank: x.rank };
      }
      case 'LeakyReLU':
        return { name: this.node('LeakyRelu', [x.name], layer.name, { alpha: { float: cfg.alpha as number } }), rank: x.rank };
      case 'Activation':
        return { name: this.activation(cfg.activation as string, x, layer.name, where), rank: x.rank };
      case 'Softmax': {
        const axis = cfg.axis as number;
        return { name: this.node('Softmax', [x.name], layer.name, { axis: x.rank === 4 ? NCHW_AXIS[axis]! : axis }), rank: x.rank };
      }
      case 'Add':
      case 'Multiply': {
        const op = cls === 'Add' ? 'Add' : 'Mul';
        let acc = ins[0]!.name;
        for (let i = 1; i < ins.length; i++) acc = this.node(op, [acc, ins[i]!.name], i === ins.length - 1 ? layer.name : `${layer.name}_${i}`);
        return { name: acc, rank: x.rank };
      }
      case 'Concatenate': {
        const axis = cfg.axis as number;
        return { name: this.node('Concat', ins.map((e) => e.name), layer.name, { axis: x.rank === 4 ? NCHW_AXIS[axis]! : axis }), rank: x.rank };
      }
      case 'AveragePooling2D':
      case 'MaxPooling2D': {
        const k = pair(cfg.poolSize);
        const s = pair(cfg.strides ?? cfg.poolSize);
        const pads = tfPads(cfg.padding as string, inShape, k, s, [1, 1], where);
        const attrs = { kernel_shape: k, strides: s, pads };
        const op = cls === 'AveragePooling2D' ? 'AveragePool' : 'MaxPool';
        return { name: this.node(op, [x.name], layer.name, op === 'AveragePool' ? { ...attrs, count_include_pad: 0 } : attrs), rank: 4 };
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        if (cfg.keepDims) throw new UnsupportedLayerError(`${where}: keepDims is not supported`);
        const pooled = this.node(cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name], `${layer.name}_pool`);
        return { name: this.node('Flatten', [pooled], layer.name, { axis: 1 }), rank: 2 };
      }
      case 'Flatten': {
        if (x.rank === 2) return x;
        if (x.rank !== 4) throw new UnsupportedLayerError(`${where}: input of rank ${x.rank} is not supported`);
        // NCHW flattens in a different order than TF's NHWC unless H = W = 1.
        const spatialOne = inShape[1] === 1 && inShape[2] === 1;
        const src = spatialOne ? x.name : this.node('Transpose', [x.name], `${layer.name}_nhwc`, { perm: [0, 2, 3, 1] });
        return { name: this.node('Flatten', [src], layer.name, { axis: 1 }), rank: 2 };
      }
      case 'Dense':
        return this.dense(layer, cfg, x, where);
      case 'Rescaling': {
        const scaled = this.node('Mul', [x.name, this.scalar(cfg.scale as number)], `${layer.name}_scale`);
        return { name: this.node('Add', [scaled, this.scalar(cfg.offset as number)], layer.name), rank: x.rank };
      }
      default:
        if (IDENTITY_LAYERS.has(cls)) return x;
        throw new UnsupportedLayerError(`${where} is not supported by the ONNX exporter`);
    }
  }

  private conv(layer: tf.layers.Layer, cfg: Config, x: Emitted, inShape: Array<number | null>, st: ST, scope: Scope, where: string): Emitted {
    const depthwise = layer.getClassName() === 'DepthwiseConv2D';
    const weights = layer.getWeights();
    const kernel = weights[0]!;
    const [kh, kw, cin, m] = kernel.shape as number[];
    // ONNX weights: Conv2D HWIO → OIHW; DepthwiseConv2D H,W,C,M → (C·M),1,H,W with group = C.
    const w = Float32Array.from(tf.tidy(() => tf.transpose(kernel, depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1]).dataSync()));
    const outC = depthwise ? cin! * m! : m!;
    const wDims = depthwise ? [outC, 1, kh!, kw!] : [outC, cin!, kh!, kw!];
    let bias = cfg.useBias ? Float32Array.from(weights[1]!.dataSync()) : new Float32Array(outC);
    const k = [kh!, kw!];
    const s = pair(cfg.strides);
    const d = pair(cfg.dilationRate);
    let pads = tfPads(cfg.padding as string, inShape, k, s, d, where);
    if (x.pads) pads = pads.map((p, i) => p + x.pads![i]!);

    let outSt = st;
    const activation = cfg.activation as string;
    const users = scope.consumers.get(st.id) ?? [];
    const bnUser = users.length === 1 && users[0]!.sourceLayer.getClassName() === 'BatchNormalization' ? users[0]! : undefined;
    if (bnUser && activation === 'linear') {
      const bn = bnParams(bnUser.sourceLayer, outC, `layer '${bnUser.sourceLayer.name}' (BatchNormalization)`);
      const per = w.length / outC;
      for (let o = 0; o < outC; o++) for (let j = 0; j < per; j++) w[o * per + j] = w[o * per + j]! * bn.scale[o]!;
      bias = bias.map((v, o) => (v - bn.mean[o]!) * bn.scale[o]! + bn.beta[o]!);
      outSt = bnUser;
    }
    const lname = outSt.sourceLayer.name;
    const inputs = [x.name, this.b.initializer(this.b.uniqueName(`${layer.name}/W`), w, wDims)];
    if (cfg.useBias || outSt !== st) inputs.push(this.b.initializer(this.b.uniqueName(`${layer.name}/B`), bias, [outC]));
    const y = this.node('Conv', inputs, lname, { kernel_shape: k, strides: s, dilations: d, pads, group: depthwise ? cin! : 1 });
    const result: Emitted = { name: this.activation(activation, { name: y, rank: 4 }, `${lname}_act`, where), rank: 4 };
    if (outSt !== st) scope.emitted.set(outSt.id, result);
    return result;
  }

  private batchNorm(layer: tf.layers.Layer, cfg: Config, x: Emitted, where: string): Emitted {
    const axis = cfg.axis as number;
    if (!(axis === -1 || axis === x.rank - 1)) throw new UnsupportedLayerError(`${where}: only the last (channel) axis is supported, got axis ${axis}`);
    const c = layer.getWeights().at(-1)!.shape[0]!;
    const bn = bnParams(layer, c, where);
    const dims = x.rank === 4 ? [1, c, 1, 1] : [c];
    const shift = bn.beta.map((bt, i) => bt - bn.mean[i]! * bn.scale[i]!);
    const mul = this.node('Mul', [x.name, this.b.initializer(this.b.uniqueName(`${layer.name}/scale`), bn.scale, dims)], `${layer.name}_mul`);
    return { name: this.node('Add', [mul, this.b.initializer(this.b.uniqueName(`${layer.name}/shift`), shift, dims)], layer.name), rank: x.rank };
  }

  private dense(layer: tf.layers.Layer, cfg: Config, x: Emitted, where: string): Emitted {
    if (x.rank !== 2) throw new UnsupportedLayerError(`${where}: input of rank ${x.rank} is not supported (add a Flatten or pooling layer first)`);
    const weights = layer.getWeights();
    const [inN, units] = weights[0]!.shape as number[];
    const w = this.b.initializer(this.b.uniqueName(`${layer.name}/W`), Float32Array.from(weights[0]!.dataSync()), [inN!, units!]);
    const y = cfg.useBias
      ? this.node('Gemm', [x.name, w, this.b.initializer(this.b.uniqueName(`${layer.name}/B`), Float32Array.from(weights[1]!.dataSync()), [units!])], `${layer.name}_linear`)
      : this.node('MatMul', [x.name, w], `${layer.name}_linear`);
    return { name: this.activation(cfg.activation as string, { name: y, rank: 2 }, layer.name, where), rank: 2 };
  }

  private activation(name: string, x: Emitted, outName: string, where: string): string {
    switch (name) {
      case 'linear':
        return x.name;
      case 'relu':
        return this.node('Relu', [x.name], outName);
      case 'relu6':
        return this.clip(x.name, 0, 6, outName);
      case 'sigmoid':
        return this.node('Sigmoid', [x.name], outName);
      case 'tanh':
        return this.node('Tanh', [x.name], outName);
      case 'elu':
        return this.node('Elu', [x.name], outName);
      case 'selu':
        return this.node('Selu', [x.name], outName);
      case 'softplus':
        return this.node('Softplus', [x.name], outName);
      case 'softmax':
        return this.node('Softmax', [x.name], outName, { axis: x.rank === 4 ? 1 : -1 });
      case 'swish':
        return this.node('Mul', [x.name, this.node('Sigmoid', [x.name], `${outName}_sigmoid`)], outName);
      default:
        throw new UnsupportedLayerError(`${where}: activation '${name}' is not supported by the ONNX exporter`);
    }
  }

  private clip(x: string, min: number, max: number, outName: string): string {
    return this.node('Clip', [x, this.scalar(min), this.scalar(max)], outName);
  }

  private scalar(v: number): string {
    const key = String(v);
    let name = this.constants.get(key);
    if (!name) {
      name = this.b.initializer(this.b.uniqueName(`const_${key}`), new Float32Array([v]), []);
      this.constants.set(key, name);
    }
    return name;
  }

  private node(op: string, inputs: string[], outStem: string, attrs: Parameters<GraphBuilder['node']>[3] = {}): string {
    return this.b.node(op, inputs, [this.b.uniqueName(outStem)], attrs)[0]!;
  }
}

/** Post-order of every symbolic tensor reachable from `outputs` (inputs before their users). */
function topoOrder(outputs: ST[]): ST[] {
  return postOrder(outputs, (st) => [...(st.inputs ?? [])], { cycle: () => new UnsupportedLayerError('the model graph has a cycle') });
}

/** BN as y = x·scale + (beta − mean·scale), computed in float64. */
function bnParams(layer: tf.layers.Layer, c: number, where: string): { scale: Float32Array; beta: Float32Array; mean: Float32Array } {
  const cfg = layer.getConfig() as Config;
  const axis = cfg.axis as number;
  if (!(axis === -1 || axis === 3 || axis === 1)) throw new UnsupportedLayerError(`${where}: only the channel axis is supported, got axis ${axis}`);
  const ws = layer.getWeights().map((t) => t.dataSync() as Float32Array);
  let i = 0;
  const gamma = cfg.scale ? ws[i++]! : new Float32Array(c).fill(1);
  const beta = cfg.center ? ws[i++]! : new Float32Array(c);
  const mean = ws[i++]!;
  const variance = ws[i++]!;
  if (!mean || !variance || mean.length !== c) throw new UnsupportedLayerError(`${where}: unexpected weights (${ws.map((w) => w.length).join(', ')})`);
  const eps = cfg.epsilon as number;
  const scale = Float32Array.from(gamma, (g, k) => g / Math.sqrt(variance[k]! + eps));
  return { scale, beta: Float32Array.from(beta), mean: Float32Array.from(mean) };
}

function pair(v: unknown): number[] {
  return typeof v === 'number' ? [v, v] : [...(v as number[])];
}

function normPadding(p: unknown): [[number, number], [number, number]] {
  if (typeof p === 'number') return [[p, p], [p, p]];
  const [a, b] = p as Array<number | number[]>;
  const h = typeof a === 'number' ? [a, a] : a!;
  const w = typeof b === 'number' ? [b, b] : b!;
  return [[h[0]!, h[1]!], [w[0]!, w[1]!]];
}

/** ONNX pads [top, left, bottom, right] reproducing TF 'same' (extra pixel at the end) or 'valid'. */
function tfPads(padding: string, inShape: Array<number | null>, k: number[], s: number[], d: number[], where: string): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new UnsupportedLayerError(`${where}: padding '${padding}' is not supported`);
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < 2; i++) {
    const size = inShape[1 + i];
    if (typeof size !== 'number') throw new UnsupportedLayerError(`${where}: 'same' padding needs a fixed input size`);
    const eff = (k[i]! - 1) * d[i]! + 1;
    const total = Math.max((Math.ceil(size / s[i]!) - 1) * s[i]! + eff - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [before[0]!, before[1]!, after[0]!, after[1]!];
}
