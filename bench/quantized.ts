/**
 * int8 vs float classifier, same run: the shipped model (MASKWATCH_BENCH_MODEL, default models/maskwatch-default) and
 * what precision auto picks for it; MobileNetV2 width 0.35 and 1.0 at 224 + the mask head, exported to ONNX,
 * quantized by src/onnx/quantize.ts, batch-1 latency with ONNX Runtime (CPU) and file sizes. Every int8 figure
 * carries the CPU's int8 features (VNNI, AVX-VNNI, AMX, asimddp, i8mm).
 * The weights are random (H1's buildMobileNetV2): latency does not depend on weight values, only on shapes and ops.
 * Built float models are cached under .cache/bench/ so reruns are quick.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
// Type-only: a value import of ./main.js deadlocks (main.ts awaits main() at top level while importing this file).
import type { BenchRow } from './stats.js';
import { quantizeOnnx, type QuantizeOptions } from '../src/onnx/quantize.js';
import { inspectOptimizedOps, summarizeKernels } from '../src/onnx/quantize-inspect.js';
import { autoChoiceRow, timeCalls } from './stats.js';
import { openSession } from '../src/onnx/session.js';
import { resolveClassifierPrecision } from '../src/vision/mask-classifier.js';
import { describeCpuInt8 } from '../src/vision/precision-choice.js';
import { describeKinds, profileByKind, totalOf, type KindTimes } from './ort-profile.js';

const SECTION = 'quantized';
const CACHE = '.cache/bench';
const SIZE = 224;
const RUNS = Number(process.env.MASKWATCH_BENCH_QUANT_RUNS ?? 100);
const RATIO_TARGET = 0.5;
const SIZE_TARGET_BYTES = 1024 * 1024;


/** Smooth pseudo-pictures in [-1, 1]: calibration only has to give plausible ranges for a latency bench. */
function pseudoPicture(seed: number): Float32Array {
  return Float32Array.from({ length: SIZE * SIZE * 3 }, (_, i) => Math.sin((i % (SIZE * 3)) * 0.013 * (seed + 1) + Math.floor(i / (SIZE * 3)) * 0.021 + seed) * 0.9);
}

async function floatModel(alpha: number): Promise<Uint8Array> {
  const file = path.join(CACHE, `mobilenetv2_${alpha}_${SIZE}_classifier.onnx`);
  if (fs.existsSync(file)) return fs.readFileSync(file);
  const { buildClassifier, buildMobileNetV2 } = await import('../src/workflows/train/mobilenet.js');
  const { layersModelToOnnx } = await import('../src/onnx/layers-export.js');
  const base = buildMobileNetV2(alpha, SIZE, 1);
  const model = buildClassifier(base, { inputSize: SIZE, hidden: 128, dropout: 0.5, classes: 3 });
  const bytes = layersModelToOnnx(model, { name: `mobilenetv2_${alpha}` });
  model.dispose();
  fs.mkdirSync(CACHE, { recursive: true });
  fs.writeFileSync(file, bytes);
  return bytes;
}

async function int8Model(alpha: number, floatBytes: Uint8Array, variant: string, opts: Partial<QuantizeOptions>): Promise<Uint8Array> {
  const file = path.join(CACHE, `mobilenetv2_${alpha}_${SIZE}_classifier.${variant}.onnx`);
  const sources = fs.readdirSync('src/onnx').filter((f) => f.startsWith('quantize')).map((f) => fs.statSync(path.join('src/onnx', f)).mtimeMs);
  if (fs.existsSync(file) && fs.statSync(file).mtimeMs > Math.max(...sources)) return fs.readFileSync(file);
  const calibration = Array.from({ length: 4 }, (_, i) => pseudoPicture(i));
  const { model } = await quantizeOnnx(floatBytes, calibration, { method: 'minmax', ...opts });
  fs.writeFileSync(file, model);
  return model;
}

interface SessionConfig {
  threads: number;
  mode: 'sequential' | 'parallel';
}

/** Wall-clock median/p90, and CPU time of this process per run (steadier than wall clock on a loaded machine). */
async function latency(bytes: Uint8Array, cfg: SessionConfig): Promise<{ median: number; p90: number; cpuMs: number }> {
  const session = await openSession(bytes, { intraOpNumThreads: cfg.threads, executionMode: cfg.mode });
  try {
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', pseudoPicture(9), [1, SIZE, SIZE, 3]) };
    return await timeCalls(() => session.run(feeds), RUNS, 10);
  } finally {
    await session.release();
  }
}

/** Variants of the int8 model: the shipped weight storage, and the others. */
const VARIANTS: Array<{ name: string; opts: Partial<QuantizeOptions> }> = [
  { name: 'int8', opts: { weightType: 'int8' } }, // as shipped: u8 activations × s8 weights (saturate on x86 without VNNI)
  { name: 'int8-u8w', opts: { weightType: 'uint8' } }, // u8-stored symmetric weights, u8×u8 kernels: exact everywhere
  { name: 'int8-float6', opts: { weightType: 'int8', floatLayers: 6 } }, // blocks 0–1 float, as the agreement search may choose
];

const SHIPPED = process.env.MASKWATCH_BENCH_MODEL ?? 'models/maskwatch-default';

const PROFILE_RUNS = Math.max(20, Math.round(RUNS * 2));

function profile(bytes: Uint8Array): Promise<KindTimes> {
  return profileByKind(bytes, pseudoPicture(9), [1, SIZE, SIZE, 3], PROFILE_RUNS);
}

function profileRow(name: string, t: KindTimes, note: string): BenchRow {
  return { section: SECTION, name, value: totalOf(t), unit: 'µs/run in kernels', note: `${describeKinds(t)}; ORT profiler, ${PROFILE_RUNS} runs; ${note}` };
}

/** Per kind, the all-int8 file's kernel time over the float file's: which kinds int8 makes faster on this CPU. */
function kindRatioRow(name: string, fl: KindTimes, q: KindTimes, cpu: string): BenchRow {
  const ratio = (kind: 'stem' | 'depthwise' | '1×1') => `${kind} ${(q[`${kind} int8`] / fl[`${kind} float`]).toFixed(2)}× (${q[`${kind} int8`].toFixed(0)} / ${fl[`${kind} float`].toFixed(0)} µs)`;
  return { section: SECTION, name, value: totalOf(q) / totalOf(fl), unit: '×', note: `${ratio('stem')}, ${ratio('depthwise')}, ${ratio('1×1')}, other ${(q.other / fl.other).toFixed(2)}× (${q.other.toFixed(0)} / ${fl.other.toFixed(0)} µs); ORT profiler, ${PROFILE_RUNS} runs; ${cpu}` };
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const int8Features = describeCpuInt8();
  const cpu = `${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg()[0]!.toFixed(1)}; int8: ${int8Features}`;
  const card = JSON.parse(fs.readFileSync(path.join(SHIPPED, 'model-card.json'), 'utf8')) as { files: Record<string, { path: string }>; quantization?: { floatLayers?: number; weights?: string } };
  if (card.files.int8) {
    const shipped: Array<[string, Uint8Array]> = [['float', fs.readFileSync(path.join(SHIPPED, card.files.float!.path))], ['int8', fs.readFileSync(path.join(SHIPPED, card.files.int8.path))]];
    const auto = await resolveClassifierPrecision({ modelDir: SHIPPED, precision: 'auto' });
    for (const threads of [1, 2]) {
      const cfg: SessionConfig = { threads, mode: 'sequential' };
      const [fl, q] = [await latency(shipped[0]![1], cfg), await latency(shipped[1]![1], cfg)];
      const label = `shipped model ${threads}t`;
      rows.push({ section: SECTION, name: `${label} float`, median: fl.median, p90: fl.p90, unit: 'ms', note: `CPU ${fl.cpuMs.toFixed(2)} ms/run` });
      rows.push({ section: SECTION, name: `${label} int8`, median: q.median, p90: q.p90, unit: 'ms', note: `${card.quantization?.weights ?? 'int8'} weights, first ${card.quantization?.floatLayers ?? 0} layer(s) float; CPU ${q.cpuMs.toFixed(2)} ms/run; int8: ${int8Features}` });
      rows.push({ section: SECTION, name: `${label} int8/float`, value: q.median / fl.median, unit: '×', target: `≤ ${RATIO_TARGET}`, pass: q.median / fl.median <= RATIO_TARGET, note: `CPU-time ratio ${(q.cpuMs / fl.cpuMs).toFixed(2)}; ${cpu}` });
      if (threads === 1) rows.push(autoChoiceRow(SECTION, `shipped model, precision auto (1 thread)`, auto.precision, auto.report.reason, { float: fl.median, int8: q.median }, int8Features));
    }
    const [pf, pq] = [await profile(shipped[0]![1]), await profile(shipped[1]![1])];
    rows.push(profileRow('shipped model 1t float, by layer kind', pf, cpu));
    const floatPart = pq['stem float'] + pq['depthwise float'] + pq['1×1 float'];
    rows.push(profileRow('shipped model 1t int8, by layer kind', pq, `its float layers ${((100 * floatPart) / totalOf(pq)).toFixed(0)} % of the run; ${cpu}`));
  }
  for (const alpha of [0.35, 1.0]) {
    const f = await floatModel(alpha);
    const models: Array<[string, Uint8Array]> = [['float', f]];
    for (const v of VARIANTS) models.push([v.name, await int8Model(alpha, f, v.name, v.opts)]);
    const int8 = models[1]![1];
    const kernels = summarizeKernels(await inspectOptimizedOps(int8));
    if (alpha === 0.35) rows.push(kindRatioRow(`w${alpha} 1t all-int8/float, by layer kind`, await profile(f), await profile(int8), cpu));
    rows.push({ section: SECTION, name: `w${alpha} float file`, value: f.byteLength / 1024, unit: 'KB' });
    rows.push({
      section: SECTION,
      name: `w${alpha} int8 file`,
      value: int8.byteLength / 1024,
      unit: 'KB',
      ...(alpha === 0.35 ? { target: '≤ 1024 KB', pass: int8.byteLength <= SIZE_TARGET_BYTES } : {}),
      note: `${(int8.byteLength / f.byteLength).toFixed(2)} × float; ORT kernels: ${kernels.integer} integer, ${kernels.floatConv} float Conv`,
    });
    for (const cfg of [{ threads: 1, mode: 'sequential' }, { threads: 2, mode: 'sequential' }, { threads: 2, mode: 'parallel' }] as SessionConfig[]) {
      // Interleave float and int8 so load changes hit both alike.
      const timed = new Map<string, { median: number; p90: number; cpuMs: number }>();
      for (const [name, bytes] of models) timed.set(name, await latency(bytes, cfg));
      const fl = timed.get('float')!;
      const label = `w${alpha} ${cfg.threads}t ${cfg.mode}`;
      for (const [name, t] of timed) {
        rows.push({ section: SECTION, name: `${label} ${name}`, median: t.median, p90: t.p90, unit: 'ms', note: `CPU ${t.cpuMs.toFixed(2)} ms/run${name === 'float' ? '' : `; int8: ${int8Features}`}` });
        if (name === 'float') continue;
        const ratio = t.median / fl.median;
        rows.push({ section: SECTION, name: `${label} ${name}/float`, value: ratio, unit: '×', ...(name === 'int8' ? { target: `≤ ${RATIO_TARGET}`, pass: ratio <= RATIO_TARGET } : {}), note: `CPU-time ratio ${(t.cpuMs / fl.cpuMs).toFixed(2)}; ${cpu}` });
      }
    }
  }
  return rows;
}
