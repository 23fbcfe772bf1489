/**
 * Idle mode (detector.idleAfterS / idleFps). Nobody in view: the real daemon (`maskwatch run`, camera = ffmpeg
 * playing an empty doorway with sensor-like noise at 15 frames/s, MQTT and GPIO off) and the CPU time of its node
 * process over 20 s from /proc/<pid>/stat (utime + stime; ffmpeg is a process of its own and not counted), with idle
 * mode and without. A face entering an idle scene: first light after its first frame, over ≥ 20 entries
 * (bench/idle-worker.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE } from '../src/source/demo-clip.js';
import { quantile, type BenchRow } from './stats.js';

const SECTION = 'idle';
const CACHE = path.resolve('.cache/bench');
const MEASURE_S = 20;
const FPS = 15;
const CPU_TARGET_PCT = 3;
const FIRST_LIGHT_TARGET_MS = 400;

/** An empty doorway, 10 s, with per-frame noise as a camera sensor gives (ffmpeg's noise filter, temporal). */
async function emptyScene(): Promise<string> {
  const file = path.join(CACHE, 'empty-doorway.mkv');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(CACHE, { recursive: true });
  const person = DEMO_PEOPLE[0]!;
  const clip = await buildClip([{ image: path.join(DEMO_ASSETS_DIR, person.file), label: person.label }], { width: 640, height: 480, fps: FPS, showMs: 100, gapMs: 500 });
  const still = path.join(CACHE, 'empty-doorway.jpg');
  fs.writeFileSync(still, clip.frames.at(-1)!);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-loop', '1', '-framerate', String(FPS), '-i', still, '-t', '10', '-vf', 'noise=alls=6:allf=t', '-c:v', 'mjpeg', '-q:v', '3', file]);
  return file;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process in seconds (fields 14 and 15 of /proc/<pid>/stat, after the command name). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Runs the daemon on the empty doorway; its node process's CPU over MEASURE_S once warmed up (and idle, if on). */
export async function daemonCpu(idleAfterS: number, detector: Record<string, unknown> = {}): Promise<{ pct: number; warmS: number; stderr: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-bench-idle-'));
  const config = {
    deviceId: 'bench-idle',
    stateDir: path.join(CACHE, 'state'),
    log: { level: 'info' },
    camera: { source: `file:${await emptyScene()}`, fps: FPS, width: 640, height: 480, loop: true },
    detector: { idleAfterS, ...detector },
    ...(process.env.MASKWATCH_BENCH_MODEL ? { classifier: { modelDir: path.resolve(process.env.MASKWATCH_BENCH_MODEL) } } : {}),
    mqtt: { enabled: false },
    signals: { backend: 'none', lampTest: false },
    systemd: { watchdog: false },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const child = spawn(process.execPath, ['bin/maskwatch.js', 'run', '--config', path.join(dir, 'config.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  try {
    // Start-up (tsx, models, a first auto measurement if none is kept) until the first frame, then idleAfterS + 2 s.
    const started = performance.now();
    while (!/ready: first frame processed/.test(stderr)) {
      if (child.exitCode !== null || performance.now() - started > 120_000) throw new Error(`the daemon did not start: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, (idleAfterS + 2) * 1000));
    const warmS = Math.round((performance.now() - started) / 1000);
    const c0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, MEASURE_S * 1000));
    const c1 = cpuSeconds(child.pid!);
    return { pct: (100 * (c1 - c0)) / ((performance.now() - t0) / 1000), warmS, stderr };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const load = () => `load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`;
  const on = await daemonCpu(10);
  rows.push({ section: SECTION, name: `nobody in view, ${FPS} frames/s, idle mode (idleAfterS 10): daemon node process CPU`, value: on.pct, unit: '% of a core', target: `≤ ${CPU_TARGET_PCT}`, pass: on.pct <= CPU_TARGET_PCT, note: `/proc/<pid>/stat over ${MEASURE_S} s after ${on.warmS} s; ffmpeg not counted; ${load()}` });
  const off = await daemonCpu(0);
  rows.push({ section: SECTION, name: `nobody in view, ${FPS} frames/s, idle mode off: daemon node process CPU`, value: off.pct, unit: '% of a core', note: `every frame decoded and detected; ${load()}` });

  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/idle-worker.ts', '24', String(FPS), '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 300_000 });
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { entries: number; idleAtEntry: number; decided: number; latencies: number[]; idleFps: number; minFrames: number; running: { classifier: string; detector: string } };
  const p99 = quantile(r.latencies, 0.99);
  rows.push({
    section: SECTION,
    name: `a face entering an idle scene: first light after its first frame (idleFps ${r.idleFps}, ${FPS} frames/s)`,
    median: quantile(r.latencies, 0.5),
    p99,
    unit: 'ms',
    target: `p99 ≤ ${FIRST_LIGHT_TARGET_MS}, n ≥ 20`,
    pass: p99 <= FIRST_LIGHT_TARGET_MS && r.latencies.length >= 20,
    note: `n ${r.latencies.length} (${r.entries} entries, ${r.idleAtEntry} into an idle scene, ${r.decided} decided), max ${Math.max(...r.latencies).toFixed(0)} ms; minFrames ${r.minFrames}; classifier ${r.running.classifier}, detector ${r.running.detector}; ${load()}`,
  });
  return rows;
}
