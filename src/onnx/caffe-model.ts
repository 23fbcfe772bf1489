/**
 * Reading a Caffe model: the network text (.prototxt, protobuf text format) and the trained weights
 * (.caffemodel, binary NetParameter). Only what a converter needs: the layer list with each layer's
 * parameters from the prototxt, and each layer's weight blobs (by layer name) from the caffemodel.
 */
import fs from 'node:fs';
import protobuf from 'protobufjs';
import { GraphConvertError } from './graph-weights.js';

/** A protobuf text-format message: each field name maps to its values in order (a field may repeat). */
export interface TextMessage {
  [field: string]: TextValue[];
}
export type TextValue = string | number | boolean | TextMessage;

export interface CaffeLayer {
  name: string;
  type: string;
  bottom: string[];
  top: string[];
  /** The whole layer message as written, e.g. params.convolution_param[0]. */
  params: TextMessage;
}

export interface CaffeBlob {
  shape: number[];
  data: Float32Array;
}

export interface CaffeNet {
  name: string;
  /** The declared network inputs with their shapes (input + input_dim / input_shape, or Input layers). */
  inputs: Array<{ name: string; shape: number[] }>;
  layers: CaffeLayer[];
}

// ---------- prototxt ----------

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string; line: number };

function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === '{' || c === '}' || c === ':' || c === ';' || c === ',') { tokens.push({ kind: 'punct', text: c, line }); i++; continue; }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\n') break;
        if (text[j] === '\\' && j + 1 < text.length) { s += unescape(text[j + 1]!); j += 2; continue; }
        s += text[j++];
      }
      if (text[j] !== c) throw new GraphConvertError(`${file}:${line}: unterminated string`);
      tokens.push({ kind: 'string', text: s, line });
      i = j + 1;
      continue;
    }
    const m = /^(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?f?|-?inf(?:inity)?|nan)/i.exec(text.slice(i, i + 64));
    if (m && !/[A-Za-z_]/.test(c)) { tokens.push({ kind: 'number', text: m[0], line }); i += m[0].length; continue; }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i, i + 256));
    if (id) { tokens.push({ kind: 'ident', text: id[0], line }); i += id[0].length; continue; }
    throw new GraphConvertError(`${file}:${line}: unexpected character ${JSON.stringify(c)}`);
  }
  return tokens;
}

function unescape(c: string): string {
  return c === 'n' ? '\n' : c === 't' ? '\t' : c;
}

/** Parses protobuf text format (the subset prototxt files use: scalars, enums, strings, nested messages). */
export function parseTextProto(text: string, file = 'prototxt'): TextMessage {
  const tokens = tokenize(text, file);
  let pos = 0;
  const parseMessage = (closing: boolean): TextMessage => {
    const msg: TextMessage = {};
    for (;;) {
      const t = tokens[pos];
      if (!t) {
        if (closing) throw new GraphConvertError(`${file}: missing '}' at end of file`);
        return msg;
      }
      if (t.kind === 'punct' && t.text === '}') {
        if (!closing) throw new GraphConvertError(`${file}:${t.line}: unmatched '}'`);
        pos++;
        return msg;
      }
      if (t.kind === 'punct' && (t.text === ';' || t.text === ',')) { pos++; continue; }
      if (t.kind !== 'ident') throw new GraphConvertError(`${file}:${t.line}: expected a field name, got ${JSON.stringify(t.text)}`);
      pos++;
      let next = tokens[pos];
      if (next?.kind === 'punct' && next.text === ':') next = tokens[++pos];
      if (!next) throw new GraphConvertError(`${file}:${t.line}: field ${t.text} has no value`);
      let value: TextValue;
      if (next.kind === 'punct' && next.text === '{') {
        pos++;
        value = parseMessage(true);
      } else if (next.kind === 'number') {
        value = Number(next.text.replace(/f$/i, '').replace(/^(-?)inf(inity)?$/i, '$1Infinity'));
        pos++;
      } else if (next.kind === 'string') {
        value = next.text;
        pos++;
      } else if (next.kind === 'ident') {
        value = next.text === 'true' ? true : next.text === 'false' ? false : next.text;
        pos++;
      } else throw new GraphConvertError(`${file}:${next.line}: field ${t.text} has no value (got ${JSON.stringify(next.text)})`);
      (msg[t.text] ??= []).push(value);
    }
  };
  return parseMessage(false);
}

/** The network structure from a prototxt's text. */
export function parsePrototxt(text: string, file = 'prototxt'): CaffeNet {
  const net = parseTextProto(text, file);
  if (net.layers?.length) throw new GraphConvertError(`${file}: uses the old V1 'layers' format; only 'layer' is supported`);
  const inputs: CaffeNet['inputs'] = [];
  const inputNames = (net.input ?? []).map(String);
  const dims = (net.input_dim ?? []).map(Number);
  const shapes = (net.input_shape ?? []).map((s) => numbers(s as TextMessage, 'dim'));
  inputNames.forEach((name, i) => {
    const shape = shapes[i] ?? dims.slice(i * 4, i * 4 + 4);
    if (shape.length === 0) throw new GraphConvertError(`${file}: input ${name} has no shape (input_dim or input_shape)`);
    inputs.push({ name, shape });
  });
  const layers: CaffeLayer[] = [];
  for (const raw of net.layer ?? []) {
    const l = raw as TextMessage;
    const name = String(l.name?.[0] ?? `layer${layers.length}`);
    const type = String(l.type?.[0] ?? '');
    if (!type) throw new GraphConvertError(`${file}: layer ${name} has no type`);
    if (type === 'Input') {
      const shape = (l.input_param?.[0] as TextMessage | undefined)?.shape?.map((s) => numbers(s as TextMessage, 'dim')) ?? [];
      (l.top ?? []).forEach((top, i) => inputs.push({ name: String(top), shape: shape[i] ?? shape[0] ?? [] }));
      continue;
    }
    layers.push({ name, type, bottom: (l.bottom ?? []).map(String), top: (l.top ?? []).map(String), params: l });
  }
  if (!inputs.length) throw new GraphConvertError(`${file}: declares no input`);
  return { name: String(net.name?.[0] ?? 'caffe'), inputs, layers };
}

/** The numbers of a repeated numeric field; throws if a value is not a number. */
export function numbers(msg: TextMessage | undefined, field: string): number[] {
  return (msg?.[field] ?? []).map((v) => {
    if (typeof v !== 'number') throw new GraphConvertError(`field ${field}: expected a number, got ${JSON.stringify(v)}`);
    return v;
  });
}

// ---------- caffemodel ----------

/** The few caffe.proto messages needed to read weights (field numbers as in BVLC caffe.proto). */
function caffeTypes(): { net: protobuf.Type } {
  const blobShape = new protobuf.Type('BlobShape').add(new protobuf.Field('dim', 1, 'int64', 'repeated'));
  const blob = new protobuf.Type('BlobProto')
    .add(new protobuf.Field('num', 1, 'int32'))
    .add(new protobuf.Field('channels', 2, 'int32'))
    .add(new protobuf.Field('height', 3, 'int32'))
    .add(new protobuf.Field('width', 4, 'int32'))
    .add(new protobuf.Field('data', 5, 'float', 'repeated'))
    .add(new protobuf.Field('shape', 7, 'BlobShape'))
    .add(new protobuf.Field('doubleData', 8, 'double', 'repeated'));
  const layer = new protobuf.Type('LayerParameter')
    .add(new protobuf.Field('name', 1, 'string'))
    .add(new protobuf.Field('type', 2, 'string'))
    .add(new protobuf.Field('blobs', 7, 'BlobProto', 'repeated'));
  const net = new protobuf.Type('NetParameter')
    .add(new protobuf.Field('name', 1, 'string'))
    // V1LayerParameter is only detected (to say it is unsupported), never read.
    .add(new protobuf.Field('layersV1', 2, 'bytes', 'repeated'))
    .add(new protobuf.Field('layer', 100, 'LayerParameter', 'repeated'));
  new protobuf.Root().define('caffe').add(blobShape).add(blob).add(layer).add(net);
  return { net };
}

interface DecodedBlob {
  num?: number;
  channels?: number;
  height?: number;
  width?: number;
  data?: number[];
  doubleData?: number[];
  shape?: { dim?: Array<number | { toNumber(): number }> };
}

/** Weight blobs per layer name from a binary .caffemodel. */
export function readCaffeWeights(bytes: Uint8Array, file = 'caffemodel'): Map<string, CaffeBlob[]> {
  let decoded: { layer?: Array<{ name?: string; blobs?: DecodedBlob[] }>; layersV1?: Uint8Array[] };
  try {
    decoded = caffeTypes().net.decode(bytes) as unknown as typeof decoded;
  } catch (err) {
    throw new GraphConvertError(`${file}: not a Caffe NetParameter (${(err as Error).message})`);
  }
  if (decoded.layersV1?.length) throw new GraphConvertError(`${file}: stores weights in the old V1 'layers' format; only 'layer' is supported`);
  const out = new Map<string, CaffeBlob[]>();
  for (const l of decoded.layer ?? []) {
    if (!l.blobs?.length) continue;
    out.set(l.name ?? '', l.blobs.map((b, i) => toBlob(b, `${file}: layer ${l.name} blob ${i}`)));
  }
  return out;
}

function toBlob(b: DecodedBlob, what: string): CaffeBlob {
  const dims = b.shape?.dim?.map((d) => (typeof d === 'number' ? d : d.toNumber()));
  // Old-style blobs give num × channels × height × width instead of a shape (a bias is 1×1×1×N).
  const shape = dims?.length ? dims : [b.num, b.channels, b.height, b.width].map((d) => d || 1);
  const data = b.data?.length ? Float32Array.from(b.data) : Float32Array.from(b.doubleData ?? []);
  const count = shape.reduce((a, d) => a * d, 1);
  if (count !== data.length) throw new GraphConvertError(`${what}: shape [${shape}] holds ${count} values but the blob has ${data.length}`);
  return { shape, data };
}

/** Reads a prototxt + caffemodel pair; a missing or unreadable file is one GraphConvertError naming it. */
export function readCaffeModel(prototxtFile: string, caffemodelFile: string): { net: CaffeNet; weights: Map<string, CaffeBlob[]> } {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f);
    } catch (err) {
      throw new GraphConvertError(`${f}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  return { net: parsePrototxt(read(prototxtFile).toString('utf8'), prototxtFile), weights: readCaffeWeights(read(caffemodelFile), caffemodelFile) };
}
