/**
 * FaceMesh landmarks behind a small interface so either runtime (TF.js here, ONNX from src/vision) plugs in.
 * Input: a 192×192 RGB crop (3 bytes per pixel, row-major). Output: 468 points (x, y, z) in crop pixels and the
 * model's face-presence score in 0..1.
 */
export const FACEMESH_INPUT = 192;
export const FACEMESH_POINTS = 468;

export interface FaceLandmarks {
  /** 468 × (x, y, z), x and y in pixels of the 192×192 crop. */
  mesh: Float32Array;
  /** Probability that the crop holds a face, 0..1. */
  faceScore: number;
}

export interface Landmarker {
  readonly name: string;
  start(): Promise<void>;
  /** One result per crop, in order. Each crop is FACEMESH_INPUT² × 3 bytes of RGB. */
  landmarks(crops: Uint8Array[]): Promise<FaceLandmarks[]>;
  stop(): Promise<void>;
}
