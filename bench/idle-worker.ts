/**
 * A face entering an idle scene, in a process of its own: the daemon's Pipeline with the real detector, classifier,
 * tracker and door state, fed at camera rate by a scripted camera: an empty doorway (long enough to go idle), then one
 * of the demo faces, again and again. For each entry: was the pipeline idle at the face's first frame, and how long
 * from that frame's arrival to the person's decision (the light). The wait before each face varies by a frame, so the
 * face arrives at every phase of the idle looks.
 * argv: entries fps idleAfterS [idleFps]. Prints one JSON line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventBus } from '../src/core/bus.js';
import { systemClock, type TimerHandle } from '../src/core/clock.js';
import type { DaemonEvents } from '../src/core/daemon-events.js';
import { loadConfig } from '../src/config/load.js';
import { Pipeline } from '../src/daemon/pipeline.js';
import { DoorState } from '../src/decision/door-state.js';
import { IouTracker } from '../src/decision/tracker.js';
import { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE } from '../src/source/demo-clip.js';
import { FrameSourceBase } from '../src/source/frame-source-base.js';
import { createFaceDetector, resolveDetectorPrecision } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';

const [entriesArg = '24', fpsArg = '15', idleAfterArg = '1', idleFpsArg] = process.argv.slice(2);
const entries = Number(entriesArg);
const fps = Number(fpsArg);
const { config } = loadConfig({ env: {}, overrides: { 'detector.idleAfterS': Number(idleAfterArg), ...(idleFpsArg ? { 'detector.idleFps': Number(idleFpsArg) } : {}) } });
const cacheDir = path.resolve('.cache/bench');
const stateDir = path.join(cacheDir, 'state');
fs.mkdirSync(cacheDir, { recursive: true });

/** Plays a script of frames at a fixed rate; remembers when each frame arrived. */
class ScriptedCamera extends FrameSourceBase {
  readonly description = 'bench idle script';
  private timer: TimerHandle | null = null;
  private next = 0;
  constructor(
    private readonly frames: Buffer[],
    private readonly onFrame: (index: number, at: number) => void,
  ) {
    super(systemClock);
  }
  async start(): Promise<void> {
    this.setState('streaming');
    this.timer = this.clock.setInterval(() => {
      if (this.next >= this.frames.length) return void this.stop();
      this.onFrame(this.next, this.clock.now());
      this.deliver(this.frames[this.next++]!);
    }, 1000 / fps);
  }
  async stop(): Promise<void> {
    if (this.timer) this.clock.clearInterval(this.timer);
    this.timer = null;
    this.setState('ended');
  }
}

// One short clip per demo person: its face frames, and an empty doorway frame.
const people = DEMO_PEOPLE.map((p) => ({ image: path.join(DEMO_ASSETS_DIR, p.file), label: p.label }));
const clips = [];
for (const person of people) {
  const clip = await buildClip([person], { width: 640, height: 480, fps, faceSize: 220, showMs: 1500, gapMs: 200, facesPerFrame: 1 });
  clips.push({ label: person.label, faces: clip.frames.slice(0, clip.sequence.segments[0]!.endFrame), empty: clip.frames.at(-1)! });
}
const emptyFrames = Math.round((config.detector.idleAfterS + 1) * fps);
const script: Buffer[] = [];
const firstFaceFrame = new Map<number, number>();
for (let i = 0; i < entries; i++) {
  const clip = clips[i % clips.length]!;
  for (let k = 0; k < emptyFrames + (i % 4); k++) script.push(clip.empty);
  firstFaceFrame.set(script.length, i);
  script.push(...clip.faces);
}
for (let k = 0; k < fps; k++) script.push(clips[0]!.empty);

const detectorSettings = (await resolveDetectorPrecision(config.detector, { stateDir })).settings;
const detector = await createFaceDetector(detectorSettings);
const classifier = await createMaskClassifier({ modelDir: process.env.MASKWATCH_BENCH_MODEL ?? config.classifier.modelDir, precision: config.classifier.precision, stateDir });
const bus = new EventBus<DaemonEvents>();
const door = new DoorState(systemClock, config.signals.holdMs, (state) => bus.emit('state.changed', state));
const entered = new Map<number, { at: number; idle: boolean; decidedAt?: number }>();
let current = -1;
let pipeline: Pipeline | null = null;
const camera = new ScriptedCamera(script, (index, at) => {
  const entry = firstFaceFrame.get(index);
  if (entry === undefined) return;
  current = entry;
  entered.set(entry, { at, idle: pipeline!.idleCounts.idle });
});
bus.on('person.decided', 'bench', () => {
  const e = entered.get(current);
  if (e && e.decidedAt === undefined) e.decidedAt = systemClock.now();
});
pipeline = new Pipeline({ source: camera, detector, classifier, tracker: new IouTracker(config.tracker), door, bus, clock: systemClock, idle: { idleAfterMs: config.detector.idleAfterS * 1000, idleFps: config.detector.idleFps } });
await camera.start();
pipeline.start();
await new Promise<void>((resolve) => camera.onStateChange((s) => s === 'ended' && resolve()));
await pipeline.stop();
await detector.close();
await classifier.close();
door.stop();
const list = [...entered.values()];
const latencies = list.filter((e) => e.idle && e.decidedAt !== undefined).map((e) => e.decidedAt! - e.at);
console.log(
  JSON.stringify({
    entries: list.length,
    idleAtEntry: list.filter((e) => e.idle).length,
    decided: list.filter((e) => e.decidedAt !== undefined).length,
    latencies,
    idleFps: config.detector.idleFps,
    fps,
    minFrames: config.tracker.minFrames,
    running: { classifier: classifier.info.precision, detector: detectorSettings.precision },
  }),
);
process.exit(0);
