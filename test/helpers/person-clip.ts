import path from 'node:path';
import type { Label } from '../../src/core/types.js';
import { buildClip, DEMO_ASSETS_DIR, DEMO_PEOPLE } from '../../src/source/demo-clip.js';

/** One demo person of `label` for 1 s at 10 frames/s: the frames with the face, and an empty doorway frame. */
export async function onePersonClip(label: Label): Promise<{ faceFrames: Buffer[]; emptyFrame: Buffer }> {
  const person = DEMO_PEOPLE.find((p) => p.label === label)!;
  const clip = await buildClip([{ image: path.join(DEMO_ASSETS_DIR, person.file), label: person.label }], { fps: 10, showMs: 1000, gapMs: 100 });
  return { faceFrames: clip.frames.slice(0, clip.sequence.segments[0]!.endFrame), emptyFrame: clip.frames[clip.frames.length - 1]! };
}
