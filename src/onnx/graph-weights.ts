import fs from 'node:fs';
import path from 'node:path';

/** The parts of a TF.js graph-model model.json the converter reads. */
export interface TfjsGraphModelJson {
  format?: string;
  modelTopology: { node: TfjsNode[] };
  weightsManifest: Array<{ paths: string[]; weights: TfjsWeightSpec[] }>;
  signature?: TfjsSignature;
  userDefinedMetadata?: { signature?: TfjsSignature };
}
export interface TfjsSignature {
  inputs?: Record<string, { name: string }>;
  outputs?: Record<string, { name: string }>;
}
export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfjsAttr>;
}
export interface TfjsAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: Array<string | number>; f?: number[] };
  shape?: { dim?: Array<{ size: string | number }> };
}
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number; original_dtype?: string };
}

/** One decoded weight: float32 or int32 values and its TF shape. */
export interface ConstTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export class GraphConvertError extends Error {}

/** Reads model.json and its weight files from disk. */
export function readTfjsGraphModel(jsonFile: string): { json: TfjsGraphModelJson; weightData: Buffer } {
  let json: TfjsGraphModelJson;
  try {
    json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as TfjsGraphModelJson;
  } catch (err) {
    throw new GraphConvertError(`${jsonFile}: cannot read the model JSON (${(err as Error).message})`);
  }
  if (!json.modelTopology?.node || !Array.isArray(json.weightsManifest))
    throw new GraphConvertError(`${jsonFile}: not a TF.js graph model (no modelTopology.node / weightsManifest)`);
  const parts: Buffer[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const file = path.join(path.dirname(jsonFile), p);
      if (!fs.existsSync(file)) throw new GraphConvertError(`${jsonFile}: weight file ${p} is missing`);
      parts.push(fs.readFileSync(file));
    }
  }
  return { json, weightData: Buffer.concat(parts) };
}

/** Decodes every weight of the manifest (groups concatenated in order), dequantizing uint8/uint16/float16. */
export function decodeWeights(json: TfjsGraphModelJson, weightData: Uint8Array): Map<string, ConstTensor> {
  const out = new Map<string, ConstTensor>();
  const view = new DataView(weightData.buffer, weightData.byteOffset, weightData.byteLength);
  let offset = 0;
  for (const group of json.weightsManifest) {
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const q = spec.quantization;
      const bytesPer = q ? (q.dtype === 'uint8' ? 1 : 2) : spec.dtype === 'bool' ? 1 : 4;
      const size = count * bytesPer;
      if (offset + size > weightData.byteLength)
        throw new GraphConvertError(`weight ${spec.name}: needs ${size} bytes at offset ${offset}, but the weight data has ${weightData.byteLength}`);
      if (spec.dtype === 'string' || spec.dtype === 'complex64') throw new GraphConvertError(`weight ${spec.name}: dtype ${spec.dtype} is not supported`);
      const isInt = spec.dtype === 'int32' || spec.dtype === 'bool';
      const data = isInt ? new Int32Array(count) : new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const at = offset + i * bytesPer;
        let v: number;
        if (!q) v = spec.dtype === 'bool' ? view.getUint8(at) : spec.dtype === 'int32' ? view.getInt32(at, true) : view.getFloat32(at, true);
        else if (q.dtype === 'float16') v = halfToFloat(view.getUint16(at, true));
        else {
          const raw = q.dtype === 'uint8' ? view.getUint8(at) : view.getUint16(at, true);
          v = raw * (q.scale ?? 1) + (q.min ?? 0);
        }
        data[i] = isInt ? Math.round(v) : v;
      }
      out.set(spec.name, { dtype: isInt ? 'int32' : 'float32', shape: spec.shape, data });
      offset += size;
    }
  }
  return out;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
