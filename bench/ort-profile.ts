/**
 * Where a classifier run's time goes, by layer kind, from ONNX Runtime's own profiler (1 thread, as the daemon runs
 * the classifier): the 3-channel stem, the depthwise 3×3 convolutions, the 1×1 convolutions, each float or int8, and
 * everything else (layout transposes, residual adds, quantize steps, the head). It tells a CPU whose int8 kernels are
 * faster for every kind from one where only some kinds gain (docs/BENCHMARKS.md, issue 9).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { openSession } from '../src/onnx/session.js';

export type LayerKind = 'stem' | 'depthwise' | '1×1' | 'other';
export type KindTimes = Record<`${Exclude<LayerKind, 'other'>} ${'float' | 'int8'}` | 'other', number>;

interface ProfileEvent {
  cat?: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string; input_type_shape?: Array<Record<string, number[]>>; output_type_shape?: Array<Record<string, number[]>>; parameter_size?: string };
}

const CONV_OPS = new Set(['Conv', 'FusedConv', 'QLinearConv', 'NhwcFusedConv']);

function shapeOf(entry: Record<string, number[]> | undefined): number[] {
  return entry ? (Object.values(entry)[0] ?? []) : [];
}

/** A convolution's kind from the shapes the profiler records (float kernels run NCHW(c), int8 ones NHWC). */
function convKind(e: ProfileEvent): Exclude<LayerKind, 'other'> {
  const int8 = e.args?.op_name === 'QLinearConv';
  const input = shapeOf(e.args?.input_type_shape?.[0]);
  const output = shapeOf(e.args?.output_type_shape?.[0]);
  const channelsIn = int8 ? input[3] : input[1];
  const channelsOut = int8 ? output[3] : output[1];
  if (channelsIn === 3) return 'stem';
  const weight = shapeOf(e.args?.input_type_shape?.[int8 ? 3 : 1]);
  // A float weight [C, 1, kh, kw] is depthwise; int8 weights come prepacked, so count parameters per output channel.
  if (!int8) return weight.length === 4 && weight[1] === 1 && (weight[2] ?? 1) > 1 ? 'depthwise' : '1×1';
  const perChannel = Number(e.args?.parameter_size ?? 0) / (channelsOut || 1);
  return channelsIn === channelsOut && perChannel < 16 ? 'depthwise' : '1×1';
}

/** Kernel time per run (µs) by kind, over `runs` runs after `warmup` unprofiled ones, on one input. */
export async function profileByKind(model: Uint8Array, input: Float32Array, dims: number[], runs = 200, warmup = 20): Promise<KindTimes> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-ort-profile-'));
  try {
    const session = await openSession(model, { intraOpNumThreads: 1, profileFilePrefix: path.join(dir, 'run') });
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) };
    for (let i = 0; i < warmup + runs; i++) await session.run(feeds);
    session.endProfiling();
    await session.release();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('ONNX Runtime wrote no profile');
    const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as ProfileEvent[];
    const starts = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.ts);
    const from = starts[warmup] ?? 0;
    const times: KindTimes = { 'stem float': 0, 'stem int8': 0, 'depthwise float': 0, 'depthwise int8': 0, '1×1 float': 0, '1×1 int8': 0, other: 0 };
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
      const op = e.args?.op_name ?? '';
      if (CONV_OPS.has(op)) times[`${convKind(e)} ${op === 'QLinearConv' ? 'int8' : 'float'}`] += e.dur;
      else times.other += e.dur;
    }
    for (const k of Object.keys(times) as Array<keyof KindTimes>) times[k] /= runs;
    return times;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function totalOf(t: KindTimes): number {
  return Object.values(t).reduce((a, b) => a + b, 0);
}

/** `stem 89 + depthwise 270 + 1×1 760 float, …, other 150 µs`: the non-zero kinds. */
export function describeKinds(t: KindTimes): string {
  return (Object.entries(t) as Array<[keyof KindTimes, number]>).filter(([, v]) => v >= 0.5).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ') + ' µs/run';
}
