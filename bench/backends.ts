/**
 * ONNX Runtime's native binding (onnxruntime-node) against its WebAssembly build (onnxruntime-web in Node, the
 * backend of 32-bit Raspberry Pi OS), side by side: classifier on one face (float, int8) and the default detector,
 * 1 thread, medians and the wasm / native ratio; then the daemon's pipeline end to end on each backend.
 * Each backend runs in its own process (one backend per process), one after the other.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { BenchRow } from './stats.js';
import type { BackendTimings } from './backends-worker.js';

const SECTION = 'backends';
const BACKENDS = ['native', 'wasm'] as const;

function child(script: string, args: string[], backend: string): string {
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, MASKWATCH_ORT_BACKEND: backend },
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 180_000,
  });
  return out.trim().split('\n').at(-1)!;
}

const load = () => `load avg ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`;

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const results = BACKENDS.map((b) => JSON.parse(child('bench/backends-worker.ts', [], b)) as BackendTimings);
  const [native, wasm] = results as [BackendTimings, BackendTimings];
  results.forEach((r, i) => {
    if (r.backend !== BACKENDS[i]) throw new Error(`asked for the ${BACKENDS[i]} backend, the worker ran ${r.backend}`);
  });
  for (const name of Object.keys(native.timings)) {
    const what = name.startsWith('detector') ? `${native.detector} ${name.replace('detector ', '')} 640×480` : name;
    for (const r of results) {
      const t = r.timings[name]!;
      rows.push({ section: SECTION, name: `${r.backend}: ${what}, 1 thread`, median: t.median, p90: t.p90, unit: 'ms', note: `${t.runs} runs, CPU ${t.cpuMs.toFixed(2)} ms/call, ${load()}` });
    }
    const n = native.timings[name]!;
    const w = wasm.timings[name]!;
    rows.push({ section: SECTION, name: `wasm / native: ${what}`, value: w.median / n.median, unit: '×', note: `CPU time ${(w.cpuMs / n.cpuMs).toFixed(2)}×` });
  }
  for (const r of results) rows.push({ section: SECTION, name: `${r.backend}: first session opened (runtime load included)`, value: r.firstOpenMs, unit: 'ms' });

  // The daemon's own pipeline (bench/pipeline-worker.ts), 1 face, offered faster than it can take.
  const fps: Record<string, number> = {};
  for (const backend of BACKENDS) {
    for (const precision of ['float', 'int8']) {
      const p = JSON.parse(child('bench/pipeline-worker.ts', ['1', precision, '240', '8'], backend)) as { framesPerS: number; cpuPerFrameMs: number; peakRssMb: number };
      fps[`${backend} ${precision}`] = p.framesPerS;
      rows.push({ section: SECTION, name: `${backend}: pipeline end to end, 1 face, ${precision}`, value: p.framesPerS, unit: 'frames/s', note: `${p.cpuPerFrameMs.toFixed(1)} ms CPU per frame, peak RSS ${p.peakRssMb.toFixed(0)} MB` });
    }
  }
  for (const precision of ['float', 'int8']) rows.push({ section: SECTION, name: `native / wasm: pipeline frames/s, ${precision}`, value: fps[`native ${precision}`]! / fps[`wasm ${precision}`]!, unit: '×' });
  return rows;
}
