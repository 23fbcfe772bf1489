import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type TensorDataType = 'float32' | 'int64' | 'int32' | 'int8' | 'uint8';

const DATA_TYPE: Record<TensorDataType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
};

export type AttributeValue = number | string | number[] | { float: number } | { floats: number[] };

/** Dimensions of a graph input or output; a string is a symbolic dimension such as 'batch'. */
export type Dims = Array<number | string>;

/**
 * Builds an ONNX model: initializers, nodes, inputs and outputs, then `toBytes()`.
 * Integer attribute values are written as INT(S); wrap in {float}/{floats} for FLOAT(S).
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(
    private readonly graphName: string,
    private readonly opset = 13,
  ) {}

  /** A fresh tensor name with the given stem. */
  uniqueName(stem: string): string {
    let name = stem;
    while (this.names.has(name)) name = `${stem}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  initializer(name: string, data: Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | number[], dims: number[], type?: TensorDataType): string {
    const dataType = type ?? inferType(data);
    const tensor: onnxProto.onnx.ITensorProto = { name, dims, dataType: DATA_TYPE[dataType] };
    tensor.rawData = toRaw(data, dataType);
    this.names.add(name);
    this.initializers.push(tensor);
    return name;
  }

  /** Adds a node; returns its output names. */
  node(opType: string, inputs: string[], outputs: string[] | number, attributes: Record<string, AttributeValue> = {}, name?: string): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.uniqueName(`${opType}_out`)) : outputs;
    for (const o of outs) this.names.add(o);
    this.nodes.push({
      opType,
      input: inputs,
      output: outs,
      name: name ?? this.uniqueName(opType),
      attribute: Object.entries(attributes).map(([k, v]) => toAttribute(k, v)),
    });
    return outs;
  }

  input(name: string, dims: Dims, type: TensorDataType = 'float32'): string {
    this.names.add(name);
    this.inputs.push(valueInfo(name, dims, type));
    return name;
  }

  output(name: string, dims: Dims, type: TensorDataType = 'float32'): string {
    this.outputs.push(valueInfo(name, dims, type));
    return name;
  }

  toModel(producer = 'maskwatch'): onnxProto.onnx.IModelProto {
    return {
      irVersion: 7,
      producerName: producer,
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
  }

  toBytes(producer?: string): Uint8Array {
    return encodeModel(this.toModel(producer));
  }
}

export function encodeModel(model: onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model as Record<string, unknown>)).finish();
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** Float32 values of an initializer (raw_data or float_data). */
export function tensorToFloat32(t: onnxProto.onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from(t.floatData ?? []);
}

function inferType(data: unknown): TensorDataType {
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  return 'float32';
}

function toRaw(data: Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | number[], type: TensorDataType): Uint8Array {
  let typed: ArrayBufferView;
  if (Array.isArray(data)) {
    typed =
      type === 'int64' ? BigInt64Array.from(data.map((v) => BigInt(Math.trunc(v))))
      : type === 'int32' ? Int32Array.from(data)
      : type === 'int8' ? Int8Array.from(data)
      : type === 'uint8' ? Uint8Array.from(data)
      : Float32Array.from(data);
  } else typed = data;
  // ONNX raw_data is little-endian, which is every platform Node runs on here.
  return new Uint8Array(typed.buffer.slice(typed.byteOffset, typed.byteOffset + typed.byteLength));
}

function valueInfo(name: string, dims: Dims, type: TensorDataType): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' && d >= 0 ? { dimValue: d } : { dimParam: String(d) })) },
      },
    },
  };
}

function toAttribute(name: string, v: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
