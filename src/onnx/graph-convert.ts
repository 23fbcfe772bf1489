/**
 * TF.js graph model → ONNX, for the convolutional MediaPipe models maskwatch ships (BlazeFace, FaceMesh).
 * The ONNX graph keeps the TF input layout (NHWC) at its edges and runs NCHW inside: 4-D activations are
 * transposed once after the input and back before anything layout-sensitive (Reshape, graph outputs).
 * TF 'SAME' padding becomes explicit pads computed from the static spatial sizes.
 */
import { postOrder } from '../core/graph-order.js';
import { GraphBuilder } from './builder.js';
import { decodeWeights, GraphConvertError, type ConstTensor, type TfjsAttr, type TfjsGraphModelJson, type TfjsNode } from './graph-weights.js';

export { GraphConvertError, readTfjsGraphModel } from './graph-weights.js';

/** A converted activation: its ONNX name, whether it is stored NCHW, and its logical TF (NHWC) shape; -1 = batch. */
interface Value {
  name: string;
  nchw: boolean;
  shape: number[];
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const SUPPORTED = ['Placeholder', 'Const', '_FusedConv2D', 'Conv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'AddV2', 'Add', 'Relu', 'Relu6', 'Prelu', 'Sigmoid', 'Pad', 'MaxPool', 'AvgPool', 'Reshape', 'Identity'];

export interface ConvertResult {
  onnx: Uint8Array;
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: Array<{ name: string; shape: number[] }>;
}

export function convertGraphModel(json: TfjsGraphModelJson, weightData: Uint8Array, graphName = 'converted'): ConvertResult {
  return new GraphConverter(json, decodeWeights(json, weightData), graphName).convert();
}

class GraphConverter {
  private readonly b: GraphBuilder;
  private readonly nodes = new Map<string, TfjsNode>();
  private readonly values = new Map<string, Value>();
  private readonly inputs: Array<{ name: string; shape: number[] }> = [];

  constructor(
    private readonly json: TfjsGraphModelJson,
    private readonly weights: Map<string, ConstTensor>,
    graphName: string,
  ) {
    this.b = new GraphBuilder(graphName, 13);
  }

  convert(): ConvertResult {
    for (const n of this.json.modelTopology.node) this.nodes.set(n.name, n);
    const outputNames = this.outputNames();
    for (const name of this.topologicalOrder(outputNames)) this.convertNode(this.nodes.get(name)!);
    const outputs = outputNames.map((name) => {
      const v = this.values.get(name)!;
      const out = sanitize(name);
      if (v.nchw) this.b.node('Transpose', [v.name], [out], { perm: NCHW_TO_NHWC });
      else this.b.node('Identity', [v.name], [out]);
      this.b.output(out, v.shape.map((d) => (d < 0 ? 'batch' : d)));
      return { name: out, shape: v.shape };
    });
    return { onnx: this.b.toBytes('maskwatch graph-convert'), inputs: this.inputs, outputs };
  }

  /** The signature's outputs in name order, else every node nobody consumes. */
  private outputNames(): string[] {
    const sig = this.json.signature ?? this.json.userDefinedMetadata?.signature;
    if (sig?.outputs) return Object.values(sig.outputs).map((o) => stripPort(o.name)).sort();
    const used = new Set<string>();
    for (const n of this.nodes.values()) for (const i of n.input ?? []) used.add(stripPort(i));
    return [...this.nodes.keys()].filter((n) => !used.has(n) && this.nodes.get(n)!.op !== 'Const').sort();
  }

  private topologicalOrder(outputs: string[]): string[] {
    return postOrder(
      outputs,
      (name) => (this.nodes.get(name)!.input ?? []).filter((i) => !i.startsWith('^')).map(stripPort),
      { missing: (name) => new GraphConvertError(`graph: node ${name} is referenced but not defined`), cycle: (name) => new GraphConvertError(`graph: cycle through ${name}`) },
      (name) => this.nodes.has(name),
    );
  }

  private constOf(name: string, what: string, node: TfjsNode): ConstTensor {
    const key = stripPort(name);
    const t = this.weights.get(key);
    if (!t) throw new GraphConvertError(`op ${node.op} (${node.name}): its ${what} ${key} must be a constant weight`);
    return t;
  }

  private valueOf(name: string, node: TfjsNode): Value {
    const v = this.values.get(stripPort(name));
    if (!v) throw new GraphConvertError(`op ${node.op} (${node.name}): input ${name} is not a tensor the converter produced`);
    return v;
  }

  private convertNode(node: TfjsNode): void {
    if (!SUPPORTED.includes(node.op))
      throw new GraphConvertError(`unsupported TF.js op ${node.op} (node ${node.name}); the converter handles ${SUPPORTED.join(', ')}`);
    const ins = (node.input ?? []).filter((i) => !i.startsWith('^'));
    // Internal names get a prefix so each graph output can carry its TF name exactly.
    const out = `tf/${sanitize(node.name)}`;
    switch (node.op) {
      case 'Const':
        if (!this.weights.has(node.name)) throw new GraphConvertError(`Const ${node.name}: no value in the weights manifest`);
        return;
      case 'Placeholder': {
        const dims = (node.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size));
        if (dims.length !== 4) throw new GraphConvertError(`Placeholder ${node.name}: expected a 4-D NHWC input, got shape [${dims}]`);
        const inputName = sanitize(node.name);
        this.b.input(inputName, dims.map((d) => (d < 0 ? 'batch' : d)));
        this.inputs.push({ name: inputName, shape: dims });
        const t = this.b.node('Transpose', [inputName], 1, { perm: NHWC_TO_NCHW })[0]!;
        this.values.set(node.name, { name: t, nchw: true, shape: dims });
        return;
      }
      case '_FusedConv2D':
      case 'Conv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return this.convertConv(node, ins, out);
      case 'AddV2':
      case 'Add':
        return this.convertAdd(node, ins, out);
      case 'Relu':
      case 'Sigmoid':
      case 'Identity': {
        const x = this.valueOf(ins[0]!, node);
        this.b.node(node.op, [x.name], [out]);
        this.values.set(node.name, { ...x, name: out });
        return;
      }
      case 'Relu6': {
        const x = this.valueOf(ins[0]!, node);
        this.b.node('Clip', [x.name, this.scalar(0), this.scalar(6)], [out]);
        this.values.set(node.name, { ...x, name: out });
        return;
      }
      case 'Prelu': {
        const x = this.valueOf(ins[0]!, node);
        this.b.node('PRelu', [x.name, this.channelConst(this.constOf(ins[1]!, 'alpha', node), x, node)], [out]);
        this.values.set(node.name, { ...x, name: out });
        return;
      }
      case 'Pad':
        return this.convertPad(node, ins, out);
      case 'MaxPool':
      case 'AvgPool':
        return this.convertPool(node, ins, out);
      case 'Reshape':
        return this.convertReshape(node, ins, out);
    }
  }

  private convertConv(node: TfjsNode, ins: string[], out: string): void {
    const x = this.requireNchw(this.valueOf(ins[0]!, node), node);
    const filter = this.constOf(ins[1]!, 'filter', node);
    const depthwise = node.op.includes('Depthwise');
    if (attrString(node, 'data_format', 'NHWC') !== 'NHWC') throw new GraphConvertError(`op ${node.op} (${node.name}): only NHWC data_format is supported`);
    const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
    const strides = attrInts(node, 'strides', [1, 1, 1, 1]);
    const dil = attrInts(node, 'dilations', [1, 1, 1, 1]);
    const inC = x.shape[3]!;
    const w = depthwise ? depthwiseWeights(filter) : convWeights(filter);
    const outC = depthwise ? cin * cout : cout;
    if (inC !== cin) throw new GraphConvertError(`op ${node.op} (${node.name}): filter expects ${cin} input channels, input has ${inC}`);
    const pads = this.spatialPads(node, x.shape, [kh, kw], [strides[1]!, strides[2]!], [dil[1]!, dil[2]!]);
    const wName = this.b.initializer(this.b.uniqueName(`${out}_W`), w, depthwise ? [outC, 1, kh, kw] : [cout, cin, kh, kw]);
    const fused = (node.attr?.fused_ops?.list?.s ?? []).map(b64);
    const convIn = [x.name, wName];
    if (fused[0] === 'BiasAdd') convIn.push(this.b.initializer(this.b.uniqueName(`${out}_B`), this.constOf(ins[2]!, 'bias', node).data as Float32Array, [outC]));
    else if (fused.length) throw new GraphConvertError(`op ${node.op} (${node.name}): fused_ops [${fused}] not supported (expected BiasAdd first)`);
    const shape = [x.shape[0]!, pads.outH, pads.outW, outC];
    const act = fused[1];
    const convOut = act ? this.b.uniqueName(`${out}_conv`) : out;
    this.b.node('Conv', convIn, [convOut], {
      kernel_shape: [kh, kw], strides: [strides[1]!, strides[2]!], dilations: [dil[1]!, dil[2]!], pads: pads.pads, group: depthwise ? cin : 1,
    });
    if (act === 'Relu') this.b.node('Relu', [convOut], [out]);
    else if (act === 'Relu6') this.b.node('Clip', [convOut, this.scalar(0), this.scalar(6)], [out]);
    else if (act === 'Prelu') this.b.node('PRelu', [convOut, this.channelConst(this.constOf(ins[3]!, 'prelu alpha', node), { name: '', nchw: true, shape }, node)], [out]);
    else if (act === 'LeakyRelu') this.b.node('LeakyRelu', [convOut], [out], { alpha: { float: node.attr?.leakyrelu_alpha?.f ?? 0.2 } });
    else if (act) throw new GraphConvertError(`op ${node.op} (${node.name}): fused activation ${act} not supported`);
    if (fused.length > 2) throw new GraphConvertError(`op ${node.op} (${node.name}): fused_ops [${fused}] not supported`);
    this.values.set(node.name, { name: out, nchw: true, shape });
  }

  /** Explicit ONNX pads [top, left, bottom, right] for TF SAME/VALID/EXPLICIT, and the output size. */
  private spatialPads(node: TfjsNode, inShape: number[], k: number[], s: number[], d: number[]): { pads: number[]; outH: number; outW: number } {
    const padding = attrString(node, 'padding', 'VALID');
    const size = [inShape[1]!, inShape[2]!];
    if (size.some((v) => !(v > 0))) throw new GraphConvertError(`op ${node.op} (${node.name}): needs static spatial sizes, got [${inShape}]`);
    const before = [0, 0];
    const after = [0, 0];
    const out = [0, 0];
    for (let i = 0; i < 2; i++) {
      const eff = (k[i]! - 1) * d[i]! + 1;
      if (padding === 'SAME') {
        out[i] = Math.ceil(size[i]! / s[i]!);
        const total = Math.max((out[i]! - 1) * s[i]! + eff - size[i]!, 0);
        before[i] = Math.floor(total / 2);
        after[i] = total - before[i]!;
      } else if (padding === 'VALID') {
        out[i] = Math.floor((size[i]! - eff) / s[i]!) + 1;
      } else if (padding === 'EXPLICIT') {
        const ex = attrInts(node, 'explicit_paddings', []);
        before[i] = ex[2 + 2 * i]!;
        after[i] = ex[3 + 2 * i]!;
        out[i] = Math.floor((size[i]! + before[i]! + after[i]! - eff) / s[i]!) + 1;
      } else throw new GraphConvertError(`op ${node.op} (${node.name}): padding ${padding} not supported`);
    }
    return { pads: [before[0]!, before[1]!, after[0]!, after[1]!], outH: out[0]!, outW: out[1]! };
  }

  private convertAdd(node: TfjsNode, ins: string[], out: string): void {
    const parts = ins.map((i) => this.values.get(stripPort(i)) ?? this.constOf(i, 'operand', node));
    const tensors = parts.filter((p): p is Value => 'name' in p);
    if (!tensors.length) throw new GraphConvertError(`op ${node.op} (${node.name}): adding two constants is not supported`);
    let layoutNchw = tensors.every((t) => t.nchw);
    const names = parts.map((p) => {
      if (!('name' in p)) return layoutNchw ? this.channelConst(p, tensors[0]!, node) : this.b.initializer(this.b.uniqueName(`${out}_c`), p.data, p.shape);
      return layoutNchw ? p.name : this.toNhwc(p).name;
    });
    if (tensors.some((t) => !t.nchw)) layoutNchw = false;
    this.b.node('Add', names, [out]);
    const shape = tensors.reduce((a, t) => (t.shape.length > a.length ? t.shape : a), tensors[0]!.shape);
    this.values.set(node.name, { name: out, nchw: layoutNchw, shape });
  }

  private convertPad(node: TfjsNode, ins: string[], out: string): void {
    const x = this.valueOf(ins[0]!, node);
    const p = this.constOf(ins[1]!, 'paddings', node);
    const rank = x.shape.length;
    if (p.shape[0] !== rank) throw new GraphConvertError(`op Pad (${node.name}): paddings for rank ${p.shape[0]} but input has rank ${rank}`);
    const perm = x.nchw ? NHWC_TO_NCHW : [...Array(rank).keys()];
    const begin = perm.map((axis) => p.data[axis * 2]!);
    const end = perm.map((axis) => p.data[axis * 2 + 1]!);
    const padsName = this.b.initializer(this.b.uniqueName(`${out}_pads`), [...begin, ...end], [rank * 2], 'int64');
    this.b.node('Pad', [x.name, padsName], [out], { mode: 'constant' });
    const shape = x.shape.map((d, axis) => (d < 0 ? d : d + p.data[axis * 2]! + p.data[axis * 2 + 1]!));
    this.values.set(node.name, { name: out, nchw: x.nchw, shape });
  }

  private convertPool(node: TfjsNode, ins: string[], out: string): void {
    const x = this.requireNchw(this.valueOf(ins[0]!, node), node);
    const k = attrInts(node, 'ksize', [1, 1, 1, 1]);
    const s = attrInts(node, 'strides', [1, 1, 1, 1]);
    if (k[0] !== 1 || k[3] !== 1) throw new GraphConvertError(`op ${node.op} (${node.name}): pooling over batch/channels not supported`);
    const pads = this.spatialPads(node, x.shape, [k[1]!, k[2]!], [s[1]!, s[2]!], [1, 1]);
    const attrs: Record<string, number | number[]> = { kernel_shape: [k[1]!, k[2]!], strides: [s[1]!, s[2]!], pads: pads.pads };
    if (node.op === 'AvgPool') attrs.count_include_pad = 0;
    this.b.node(node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool', [x.name], [out], attrs);
    this.values.set(node.name, { name: out, nchw: true, shape: [x.shape[0]!, pads.outH, pads.outW, x.shape[3]!] });
  }

  private convertReshape(node: TfjsNode, ins: string[], out: string): void {
    const x = this.toNhwc(this.valueOf(ins[0]!, node));
    const target = Array.from(this.constOf(ins[1]!, 'shape', node).data);
    const shapeName = this.b.initializer(this.b.uniqueName(`${out}_shape`), target, [target.length], 'int64');
    this.b.node('Reshape', [x.name, shapeName], [out]);
    const known = x.shape.every((d) => d > 0);
    const total = x.shape.reduce((a, b) => a * b, 1);
    const rest = target.reduce((a, b) => (b > 0 ? a * b : a), 1);
    const shape = target.map((d) => (d === -1 ? (known ? total / rest : -1) : d === 0 ? x.shape[target.indexOf(d)]! : d));
    this.values.set(node.name, { name: out, nchw: false, shape });
  }

  private requireNchw(v: Value, node: TfjsNode): Value {
    if (!v.nchw || v.shape.length !== 4) throw new GraphConvertError(`op ${node.op} (${node.name}): needs a 4-D image tensor, got shape [${v.shape}]`);
    return v;
  }

  private toNhwc(v: Value): Value {
    if (!v.nchw) return v;
    const t = this.b.node('Transpose', [v.name], 1, { perm: NCHW_TO_NHWC })[0]!;
    return { name: t, nchw: false, shape: v.shape };
  }

  /** A per-channel constant (bias, PReLU alpha) of shape [C], [1,1,C] or [1,1,1,C], laid out to broadcast against x. */
  private channelConst(c: ConstTensor, x: Value, node: TfjsNode): string {
    const channels = x.shape[x.shape.length - 1]!;
    const isPerChannel = c.shape.slice(0, -1).every((d) => d === 1) && (c.shape[c.shape.length - 1] === channels || c.data.length === 1);
    if (!isPerChannel) throw new GraphConvertError(`op ${node.op} (${node.name}): constant of shape [${c.shape}] does not broadcast per channel over [${x.shape}]`);
    const dims = x.nchw ? [c.data.length, 1, 1] : [c.data.length];
    return this.b.initializer(this.b.uniqueName(`${sanitize(node.name)}_k`), Float32Array.from(c.data), dims);
  }

  private scalar(v: number): string {
    return this.b.initializer(this.b.uniqueName('scalar'), Float32Array.of(v), []);
  }
}

/** TF filter [kh, kw, cin, cout] → ONNX [cout, cin, kh, kw]. */
function convWeights(f: ConstTensor): Float32Array {
  const [kh, kw, cin, cout] = f.shape as [number, number, number, number];
  const w = new Float32Array(f.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) w[((o * cin + i) * kh + y) * kw + x] = f.data[((y * kw + x) * cin + i) * cout + o]!;
  return w;
}

/** TF depthwise filter [kh, kw, cin, mult] → ONNX grouped conv [cin*mult, 1, kh, kw] (output channel c*mult+m). */
function depthwiseWeights(f: ConstTensor): Float32Array {
  const [kh, kw, cin, mult] = f.shape as [number, number, number, number];
  const w = new Float32Array(f.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < cin; c++)
        for (let m = 0; m < mult; m++) w[((c * mult + m) * kh + y) * kw + x] = f.data[((y * kw + x) * cin + c) * mult + m]!;
  return w;
}

function stripPort(name: string): string {
  return name.replace(/^\^/, '').replace(/:\d+$/, '');
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_./-]/g, '_');
}

function b64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

function attrString(node: TfjsNode, key: string, fallback: string): string {
  const a: TfjsAttr | undefined = node.attr?.[key];
  return a?.s !== undefined ? b64(a.s) : fallback;
}

function attrInts(node: TfjsNode, key: string, fallback: number[]): number[] {
  const list = node.attr?.[key]?.list?.i;
  return list && list.length ? list.map(Number) : fallback;
}
