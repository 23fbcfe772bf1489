/**
 * Classifier latency, batch 1: the shipped MobileNetV2 0.35/224 + mask head exported to ONNX and run by ONNX Runtime
 * (CPU; 1 thread, 2 threads with and without spinning) against the same TF.js model on the TF.js wasm backend; plus width 1.0 with ORT.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { timeCalls, type BenchRow, type Timing } from './stats.js';
import { openSession } from '../src/onnx/session.js';
import { layersModelToOnnx } from '../src/onnx/layers-export.js';
import { loadLayersModelFromDir } from '../src/workflows/export/tfjs-model-dir.js';
import { buildClassifier, buildMobileNetV2 } from '../src/workflows/train/mobilenet.js';

const SECTION = 'classifier';
const BASE_DIR = 'models/mobilenet_v2_0.35_224';
const HEAD = { inputSize: 224, hidden: 128, dropout: 0.5, classes: 3, seed: 1 };
const ORT_RUNS = 300;
const WASM_RUNS = 40;
const TARGET_MS = 3;

function load(): string {
  return `load avg ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`;
}

function randomInput(): Float32Array {
  return Float32Array.from({ length: 224 * 224 * 3 }, (_, i) => Math.sin(i * 12.9898) * 0.999);
}

interface OrtConfig {
  threads: number;
  /** ORT's intra-op worker threads busy-wait between ops by default; on a shared CPU that costs more than it gains. */
  spinning: boolean;
}

const ORT_CONFIGS: OrtConfig[] = [
  { threads: 1, spinning: true },
  { threads: 2, spinning: true },
  { threads: 2, spinning: false },
];

function describe(c: OrtConfig): string {
  return c.threads === 1 ? '1 thread' : `${c.threads} threads${c.spinning ? '' : ', no spinning'}`;
}

async function timeOrt(bytes: Uint8Array, config: OrtConfig, runs: number): Promise<Timing> {
  const session = await openSession(bytes, { intraOpNumThreads: config.threads, allowSpinning: config.spinning });
  try {
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', randomInput(), [1, 224, 224, 3]) };
    return await timeCalls(() => session.run(feeds), runs, 30);
  } finally {
    await session.release();
  }
}

/** Switches TF.js to the wasm backend (files from node_modules); returns the thread count it uses. */
async function useWasm(): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + path.sep);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend did not initialise');
  await tf.ready();
  return wasm.getThreadsCount();
}

async function timeTfjs(model: tf.LayersModel, runs: number): Promise<Timing> {
  const x = tf.tensor4d(randomInput(), [1, 224, 224, 3]);
  try {
    return await timeCalls(() => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()), runs, 5);
  } finally {
    x.dispose();
  }
}

export async function run(): Promise<BenchRow[]> {
  // Before any backend is chosen getBackend() is undefined; TF.js in Node then falls back to cpu.
  const previousBackend = tf.getBackend() ?? 'cpu';
  tf.enableProdMode();
  const rows: BenchRow[] = [];
  const wasmThreads = await useWasm();
  try {
    const base = await loadLayersModelFromDir(BASE_DIR);
    const classifier = buildClassifier(base, HEAD);
    const bytes = layersModelToOnnx(classifier);

    const timings: Array<[OrtConfig, Timing]> = [];
    for (const config of ORT_CONFIGS) {
      const t = await timeOrt(bytes, config, ORT_RUNS);
      timings.push([config, t]);
      rows.push({ section: SECTION, name: `ORT float 0.35/224, ${describe(config)}`, median: t.median, p90: t.p90, unit: 'ms', note: `${t.runs} runs, min ${t.min.toFixed(2)}, CPU ${t.cpuMs.toFixed(2)} ms/run, ${load()}` });
    }
    const [bestConfig, best] = [...timings].sort((a, b) => a[1].median - b[1].median)[0]!;
    rows.push({
      section: SECTION,
      name: 'ORT float 0.35/224, best',
      median: best.median,
      p90: best.p90,
      unit: 'ms',
      target: `median ≤ ${TARGET_MS} ms`,
      pass: best.median <= TARGET_MS,
      note: `${describe(bestConfig)}, ${load()}`,
    });

    const wasmTiming = await timeTfjs(classifier, WASM_RUNS);
    rows.push({ section: SECTION, name: 'TF.js wasm 0.35/224', median: wasmTiming.median, p90: wasmTiming.p90, unit: 'ms', note: `${wasmTiming.runs} runs, ${wasmThreads} thread(s), min ${wasmTiming.min.toFixed(1)}, CPU ${wasmTiming.cpuMs.toFixed(1)} ms/run, ${load()}` });
    rows.push({ section: SECTION, name: 'TF.js wasm / ORT best (median)', value: wasmTiming.median / best.median, unit: '×', note: 'how many times faster ORT is' });
    const bestCpu = Math.min(...timings.map(([, t]) => t.cpuMs));
    rows.push({ section: SECTION, name: 'TF.js wasm / ORT, CPU time per run', value: wasmTiming.cpuMs / bestCpu, unit: '×', note: 'steadier than the latency ratio on a busy machine' });

    const wide = buildClassifier(buildMobileNetV2(1.0, 224, 1), HEAD);
    const wideBytes = layersModelToOnnx(wide);
    const wideTiming = await timeOrt(wideBytes, bestConfig, ORT_RUNS / 2);
    rows.push({ section: SECTION, name: 'ORT float 1.0/224 (random weights)', median: wideTiming.median, p90: wideTiming.p90, unit: 'ms', note: `${wideTiming.runs} runs, ${describe(bestConfig)}, min ${wideTiming.min.toFixed(2)}, CPU ${wideTiming.cpuMs.toFixed(2)} ms/run, ${load()}` });
  } finally {
    await tf.setBackend(previousBackend);
  }
  return rows;
}
