/**
 * One pipeline measurement in a process of its own (so its peak memory is its own):
 * a 640×480 MJPEG stream from ONE ffmpeg process → the daemon's Pipeline with the real detector,
 * classifier and tracker, the door state and the bus (lights and MQTT are subscribers, counted here).
 * The detector runs as the daemon runs it (in its own thread where there are two cores; MASKWATCH_BENCH_DETECTOR_THREAD=0:
 * on the main thread, for comparison).
 * argv: faces (1|3) precision (auto|int8|float, for the classifier and the detector) inputFps seconds. Prints one JSON
 * line. auto keeps its choice in .cache/bench/state, as the daemon keeps it in its stateDir. seconds 0: only build the clip
 * and make auto's choice (both cost memory once), so the measured processes show the steady state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { quantile } from './stats.js';

// The daemon's modules from dist/ (MASKWATCH_BENCH_CODE=dist: the compiled JavaScript a device runs) or from src/.
const code = process.env.MASKWATCH_BENCH_CODE === 'dist' ? '../dist' : '../src';
const load = <T>(module: string): Promise<T> => import(`${code}/${module}`) as Promise<T>;
const { systemClock } = await load<typeof import('../src/core/clock.js')>('core/clock.js');
const { EventBus } = await load<typeof import('../src/core/bus.js')>('core/bus.js');
const { loadConfig } = await load<typeof import('../src/config/load.js')>('config/load.js');
const { Pipeline } = await load<typeof import('../src/daemon/pipeline.js')>('daemon/pipeline.js');
const { DoorState } = await load<typeof import('../src/decision/door-state.js')>('decision/door-state.js');
const { IouTracker } = await load<typeof import('../src/decision/tracker.js')>('decision/tracker.js');
const { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE } = await load<typeof import('../src/source/demo-clip.js')>('source/demo-clip.js');
const { ProcessFrameSource } = await load<typeof import('../src/source/process-source.js')>('source/process-source.js');
const { createFaceDetector, resolveDetectorPrecision } = await load<typeof import('../src/vision/create-face-detector.js')>('vision/create-face-detector.js');
const { createMaskClassifier } = await load<typeof import('../src/vision/mask-classifier.js')>('vision/mask-classifier.js');
const { createDaemonDetector } = await load<typeof import('../src/vision/threaded-detector.js')>('vision/threaded-detector.js');
type DaemonEvents = import('../src/core/daemon-events.js').DaemonEvents;

const [facesArg = '1', precisionArg = 'auto', fpsArg = '120', secondsArg = '10'] = process.argv.slice(2);
const precision = precisionArg as 'auto' | 'int8' | 'float';
const faces = Number(facesArg);
const { config } = loadConfig();
const cacheDir = path.resolve('.cache/bench');
fs.mkdirSync(cacheDir, { recursive: true });

// Faces in view the whole time: the per-frame cost with people at the door.
const clipFile = path.join(cacheDir, `pipeline-${faces}-faces.mjpeg`);
if (!fs.existsSync(clipFile)) {
  const people = DEMO_PEOPLE.map((p) => ({ image: path.join(DEMO_ASSETS_DIR, p.file), label: p.label }));
  const { frames } = await buildClip(people, { width: 640, height: 480, fps: 15, faceSize: faces === 1 ? 220 : 150, showMs: 4000, gapMs: 0, facesPerFrame: faces });
  fs.writeFileSync(clipFile, Buffer.concat(frames));
}

const clock = systemClock;
const source = new ProcessFrameSource(
  {
    description: `bench clip ${faces} face(s)`,
    specs: [{ command: 'ffmpeg', args: ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-f', 'mjpeg', '-framerate', fpsArg, '-i', clipFile, '-c:v', 'copy', '-f', 'mjpeg', '-'] }],
    retryInitialMs: 500,
    retryMaxMs: 2000,
    stallMs: 5000,
  },
  clock,
);
const stateDir = path.join(cacheDir, 'state');
const detectorSettings = (await resolveDetectorPrecision({ ...config.detector, precision }, { stateDir })).settings;
const detector = process.env.MASKWATCH_BENCH_DETECTOR_THREAD === '0' ? await createFaceDetector(detectorSettings) : await createDaemonDetector(detectorSettings);
const classifier = await createMaskClassifier({ modelDir: process.env.MASKWATCH_BENCH_MODEL ?? config.classifier.modelDir, precision, stateDir });
if (Number(secondsArg) === 0) {
  console.log(JSON.stringify({ prepared: clipFile }));
  process.exit(0);
}
// The daemon's own pieces between the source and the outputs: pipeline, door state, bus.
const bus = new EventBus<DaemonEvents>();
let lightChanges = 0;
let events = 0;
bus.on('state.changed', 'bench', () => void lightChanges++);
bus.on('person.decided', 'bench', () => void events++);
const door = new DoorState(clock, config.signals.holdMs, (state) => bus.emit('state.changed', state));
const idle = { idleAfterMs: config.detector.idleAfterS * 1000, idleFps: config.detector.idleFps };
const pipeline = new Pipeline({ source, detector, classifier, tracker: new IouTracker(config.tracker), door, bus, clock, latencyWindow: 1_000_000, idle });

await source.start();
pipeline.start();
// Warm up, then measure over a fixed window.
await new Promise((r) => setTimeout(r, 2000));
const startProcessed = pipeline.stats.processedFrames;
const startReceived = source.stats().received;
const startDropped = source.stats().dropped;
const cpuStart = process.cpuUsage();
const t0 = clock.now();
(pipeline.stats as unknown as { latencies: number[] }).latencies.length = 0;
await new Promise((r) => setTimeout(r, Number(secondsArg) * 1000));
const elapsedS = (clock.now() - t0) / 1000;
const processed = pipeline.stats.processedFrames - startProcessed;
const latencies = [...(pipeline.stats as unknown as { latencies: number[] }).latencies];
const cpu = process.cpuUsage(cpuStart);
await source.stop();
await pipeline.stop();
await detector.close();
door.stop();
await classifier.close();
console.log(
  JSON.stringify({
    faces,
    precision,
    running: { classifier: classifier.info.precision, detector: detectorSettings.precision },
    inputFps: Number(fpsArg),
    seconds: elapsedS,
    framesPerS: processed / elapsedS,
    receivedPerS: (source.stats().received - startReceived) / elapsedS,
    dropped: source.stats().dropped - startDropped,
    latencyP50: quantile(latencies, 0.5),
    latencyP99: quantile(latencies, 0.99),
    cpuPerFrameMs: (cpu.user + cpu.system) / 1000 / Math.max(1, processed),
    peakRssMb: peakRssMb(),
    events,
    lightChanges,
  }),
);
process.exit(0);

/**
 * This process's own peak RSS. Linux carries getrusage's maxRSS across fork + exec, so a worker started by a large
 * bench process would report the parent's size; VmHWM in /proc belongs to this process's memory map alone.
 */
function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS / 1024;
}
