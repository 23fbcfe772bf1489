/** Graph plumbing the quantizer needs: names, initializers, element types, topological order, Pad folding. */
import { onnx, tensorToFloat32 } from './builder.js';
import type onnxProto from 'onnx-proto';

export type Model = onnxProto.onnx.IModelProto;
export type Graph = onnxProto.onnx.IGraphProto;
export type Node = onnxProto.onnx.INodeProto;
export type Tensor = onnxProto.onnx.ITensorProto;

const DT = onnx.TensorProto.DataType;
export const ELEM = { float: DT.FLOAT, uint8: DT.UINT8, int8: DT.INT8, int32: DT.INT32, int64: DT.INT64 } as const;

export function graphOf(model: Model): Graph {
  if (!model.graph) throw new Error('ONNX model has no graph');
  return model.graph;
}

/** Hands out names not yet used anywhere in the graph. */
export class NameAllocator {
  private readonly used = new Set<string>();
  constructor(graph: Graph) {
    for (const t of graph.initializer ?? []) this.used.add(t.name ?? '');
    for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) this.used.add(v.name ?? '');
    for (const n of graph.node ?? []) {
      for (const x of [...(n.input ?? []), ...(n.output ?? [])]) this.used.add(x);
      if (n.name) this.used.add(n.name);
    }
  }
  next(stem: string): string {
    let name = stem;
    for (let i = 1; this.used.has(name); i++) name = `${stem}_${i}`;
    this.used.add(name);
    return name;
  }
}

export function initializerMap(graph: Graph): Map<string, Tensor> {
  return new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
}

export function attr(node: Node, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.i === undefined || a.i === null ? fallback : Number(a.i);
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a?.ints?.length ? a.ints.map(Number) : undefined;
}

export function attrString(node: Node, name: string): string | undefined {
  const a = attr(node, name);
  return a?.s?.length ? new TextDecoder().decode(a.s) : undefined;
}

export function attrFloat(node: Node, name: string): number | undefined {
  const a = attr(node, name);
  return a && a.type === onnx.AttributeProto.AttributeType.FLOAT ? Number(a.f) : undefined;
}

export function setAttrInts(node: Node, name: string, ints: number[]): void {
  node.attribute = (node.attribute ?? []).filter((a) => a.name !== name);
  node.attribute.push({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
}

/** Values of an int64 initializer (raw_data or int64_data). */
export function tensorToInts(t: Tensor): number[] {
  if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    if (t.dataType === DT.INT32) return Array.from(new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
    return Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Number);
  }
  if (t.int64Data?.length) return t.int64Data.map(Number);
  return (t.int32Data ?? []).map(Number);
}

export function floatValues(t: Tensor): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new Error(`initializer ${t.name}: expected float32, got data type ${t.dataType}`);
  return tensorToFloat32(t);
}

export function makeTensor(name: string, data: Float32Array | Int8Array | Uint8Array | Int32Array, dims: number[]): Tensor {
  const dataType = data instanceof Float32Array ? DT.FLOAT : data instanceof Int8Array ? DT.INT8 : data instanceof Uint8Array ? DT.UINT8 : DT.INT32;
  return { name, dims, dataType, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

/** Element type of every tensor: initializers and inputs as declared, node outputs by a small per-op rule. */
export function elementTypes(graph: Graph): Map<string, number> {
  const types = new Map<string, number>();
  for (const t of graph.initializer ?? []) types.set(t.name ?? '', t.dataType ?? DT.FLOAT);
  for (const v of graph.input ?? []) if (!types.has(v.name ?? '')) types.set(v.name ?? '', v.type?.tensorType?.elemType ?? DT.FLOAT);
  for (const n of topologicalOrder(graph)) {
    const first = types.get(n.input?.[0] ?? '') ?? DT.FLOAT;
    let t = first;
    if (n.opType === 'Shape' || n.opType === 'Size' || n.opType === 'NonZero' || n.opType === 'ArgMax' || n.opType === 'ArgMin') t = DT.INT64;
    else if (n.opType === 'Cast') t = attrInt(n, 'to', DT.FLOAT);
    else if (n.opType === 'QuantizeLinear') t = types.get(n.input?.[2] ?? '') ?? DT.UINT8;
    else if (n.opType === 'DequantizeLinear') t = DT.FLOAT;
    else if (n.opType === 'Constant') t = attr(n, 'value')?.t?.dataType ?? DT.FLOAT;
    for (const o of n.output ?? []) types.set(o, t);
  }
  return types;
}

/** Nodes sorted so every input is produced before it is used (Kahn's algorithm, stable for already-sorted graphs). */
export function topologicalOrder(graph: Graph): Node[] {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  const pending = nodes.map((n) => new Set((n.input ?? []).filter((x) => x && producer.has(x)).map((x) => producer.get(x)!)));
  const dependents: number[][] = nodes.map(() => []);
  pending.forEach((deps, i) => deps.forEach((d) => dependents[d]!.push(i)));
  const ready: number[] = [];
  pending.forEach((deps, i) => deps.size === 0 && ready.push(i));
  const order: Node[] = [];
  const done = new Set<number>();
  while (ready.length) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    done.add(i);
    order.push(nodes[i]!);
    for (const j of dependents[i]!) {
      pending[j]!.delete(i);
      if (pending[j]!.size === 0 && !done.has(j)) ready.push(j);
    }
  }
  if (order.length !== nodes.length) throw new Error('ONNX graph has a cycle');
  return order;
}

export function consumersOf(graph: Graph): Map<string, Node[]> {
  const map = new Map<string, Node[]>();
  for (const n of graph.node ?? []) for (const x of n.input ?? []) if (x) map.set(x, [...(map.get(x) ?? []), n]);
  return map;
}

/**
 * Pad(constant 0, spatial pads only) → Conv becomes one Conv with those pads: the same arithmetic, and the quantized
 * Conv then reads its input directly instead of through a float Pad.
 */
export function foldPadsIntoConvs(graph: Graph): number {
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const removed = new Set<Node>();
  for (const pad of graph.node ?? []) {
    if (pad.opType !== 'Pad' || outputs.has(pad.output?.[0])) continue;
    if ((attrString(pad, 'mode') ?? 'constant') !== 'constant') continue;
    let pads = attrInts(pad, 'pads');
    const padsInput = pad.input?.[1];
    if (padsInput) {
      const t = inits.get(padsInput);
      if (!t) continue;
      pads = tensorToInts(t);
    }
    const valueInput = pad.input?.[2];
    if (valueInput) {
      const v = inits.get(valueInput);
      if (!v || floatValues(v).some((x) => x !== 0)) continue;
    } else if ((attrFloat(pad, 'value') ?? 0) !== 0) continue;
    if (!pads || pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) continue; // NCHW, spatial only
    const users = consumers.get(pad.output![0]!) ?? [];
    if (!users.length || users.some((c) => c.opType !== 'Conv' || c.input?.[0] !== pad.output![0] || (attrString(c, 'auto_pad') ?? 'NOTSET') !== 'NOTSET')) continue;
    for (const conv of users) {
      const p = attrInts(conv, 'pads') ?? [0, 0, 0, 0];
      setAttrInts(conv, 'pads', [p[0]! + pads[2]!, p[1]! + pads[3]!, p[2]! + pads[6]!, p[3]! + pads[7]!]);
      conv.input![0] = pad.input![0]!;
    }
    removed.add(pad);
  }
  graph.node = (graph.node ?? []).filter((n) => !removed.has(n));
  return removed.size;
}

export function countOps(graph: Graph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of graph.node ?? []) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType ?? '?';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
