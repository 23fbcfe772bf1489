import { FaceLandmarker, FACEMESH_MODEL } from '../../vision/face-landmarks.js';
import { FACEMESH_INPUT, FACEMESH_POINTS, type FaceLandmarks, type Landmarker } from './landmarker.js';

/** FaceMesh on ONNX Runtime (models/facemesh/facemesh.onnx through src/vision/face-landmarks.ts). */
export class OnnxFaceMeshLandmarker implements Landmarker {
  readonly name = 'facemesh (onnxruntime)';
  private runner: FaceLandmarker | null = null;

  constructor(private readonly modelFile: string = FACEMESH_MODEL) {}

  async start(): Promise<void> {
    const runner = new FaceLandmarker(this.modelFile);
    await runner.start();
    this.runner = runner;
  }

  async landmarks(crops: Uint8Array[]): Promise<FaceLandmarks[]> {
    if (!this.runner) throw new Error('FaceMesh landmarker used before start()');
    const results = await this.runner.runBatch(crops.map((rgb) => ({ width: FACEMESH_INPUT, height: FACEMESH_INPUT, rgb })));
    return results.map((r) => {
      const mesh = new Float32Array(FACEMESH_POINTS * 3);
      r.points.forEach(([x, y, z], i) => mesh.set([x, y, z], i * 3));
      return { mesh, faceScore: r.faceScore };
    });
  }

  async stop(): Promise<void> {
    try {
      await this.runner?.stop();
    } catch {
      /* already stopped */
    }
    this.runner = null;
  }
}
