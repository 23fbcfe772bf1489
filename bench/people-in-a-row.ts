/**
 * `node --import tsx bench/people-in-a-row.ts`: how many people the tracker tells apart when they step into the same
 * spot one after another, sooner than tracker.lostAfterMs. The seven demo people (assets/demo) in a row, at 3, 4, 10
 * and 15 frames/s (or the rates given as arguments), 300 or 800 ms apart, and with the face lost for 400 or 800 ms in the middle of each person (a detector
 * miss: the face turned away); each clip runs once through the daemon's detector and classifier (their configured
 * precision), and the same per-frame faces go through each tracker setting. A person is right when their label comes
 * in its place in the order of decisions (longest common subsequence); extra decisions are people counted twice.
 * Not a unit test; the demo faces are drawn in, not door video.
 */
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { ClassifiedFace, Label } from '../src/core/types.js';
import { decodeFrame } from '../src/daemon/pipeline.js';
import { fusedVerdict } from '../src/decision/fuse-scores.js';
import { IouTracker, type TrackerOptions } from '../src/decision/tracker.js';
import { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE } from '../src/source/demo-clip.js';
import { createFaceDetector } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';

function commonInOrder(a: Label[], b: Label[]): number {
  const d = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i]![j] = a[i - 1] === b[j - 1] ? d[i - 1]![j - 1]! + 1 : Math.max(d[i - 1]![j]!, d[i]![j - 1]!);
  return d[a.length]![b.length]!;
}

const { config } = loadConfig({ env: {} });
const detector = await createFaceDetector(config.detector);
const classifier = await createMaskClassifier({ modelDir: config.classifier.modelDir, precision: config.classifier.precision });
const people = DEMO_PEOPLE.map((p) => ({ image: path.join(DEMO_ASSETS_DIR, p.file), label: p.label }));
const settings: Array<{ name: string; tracker: TrackerOptions }> = [
  { name: 'newPersonAfterGapMs 0 (off), lostAfterMs 1500', tracker: { ...config.tracker, newPersonAfterGapMs: 0 } },
  { name: 'off, lostAfterMs 500', tracker: { ...config.tracker, newPersonAfterGapMs: 0, lostAfterMs: 500 } },
  { name: `newPersonAfterGapMs ${config.tracker.newPersonAfterGapMs}, lostAfterMs ${config.tracker.lostAfterMs} (defaults)`, tracker: config.tracker },
];
console.log(`${classifier.info.name} (${classifier.info.precision}), ${people.length} people in a row; right / extra decisions`);
console.log(`| frames/s | apart | face lost mid-person | ${settings.map((s) => s.name).join(' | ')} |`);
console.log(`|---|---|---|${settings.map(() => '---|').join('')}`);
const fpsList = process.argv.slice(2).map(Number).filter((n) => n > 0);
for (const fps of fpsList.length ? fpsList : [3, 4, 10, 15])
  for (const gapMs of [300, 800])
    for (const lostMs of [0, 400, 800]) {
      const { frames, sequence } = await buildClip(people, { fps, gapMs, showMs: 2500 });
      const frameMs = 1000 / fps;
      const perFrame: ClassifiedFace[][] = [];
      for (let i = 0; i < frames.length; i++) {
        const seg = sequence.segments.find((g) => i >= g.startFrame && i < g.endFrame);
        const mid = seg ? Math.floor((seg.startFrame + seg.endFrame) / 2) : -1;
        const lost = seg !== undefined && i >= mid && i < mid + Math.round(lostMs / frameMs);
        const frame = await decodeFrame(frames[i]!, i, i * frameMs);
        const faces = lost ? [] : await detector.detect(frame);
        const verdicts = faces.length ? await classifier.classifyFaces(frame, faces.map((f) => f.box)) : [];
        perFrame.push(faces.map((f, k) => ({ ...f, ...fusedVerdict(verdicts[k]!, f.detectorScores, config.classifier.detectorScoreWeight) })));
      }
      const cells = settings.map(({ tracker }) => {
        const t = new IouTracker(tracker);
        const decided = perFrame.flatMap((faces, i) => t.update(i * frameMs, faces).decided.map((d) => d.label));
        const right = commonInOrder(decided, sequence.expected);
        return `${right}/${sequence.expected.length} right, ${decided.length - right} extra`;
      });
      console.log(`| ${fps} | ${gapMs} ms | ${lostMs ? `${lostMs} ms` : '–'} | ${cells.join(' | ')} |`);
    }
await detector.close();
await classifier.close();
