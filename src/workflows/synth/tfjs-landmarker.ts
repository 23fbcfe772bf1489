import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { FACEMESH_INPUT, type FaceLandmarks, type Landmarker } from './landmarker.js';

type Tf = typeof import('@tensorflow/tfjs');
type GraphModel = Awaited<ReturnType<Tf['loadGraphModel']>>;

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: unknown[] }[];
  signature?: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
}

/**
 * FaceMesh (TF.js graph model: facemesh.json + facemesh.bin) on the TF.js WASM backend, read from disk (no network).
 * The model expects RGB scaled to [0, 1]; its face flag already ends in a Sigmoid op.
 */
export class TfjsFaceMeshLandmarker implements Landmarker {
  readonly name = 'facemesh (tfjs-wasm)';
  private tf: Tf | null = null;
  private model: GraphModel | null = null;

  constructor(private readonly modelDir: string, private readonly backend: 'wasm' | 'cpu' = 'wasm') {}

  async start(): Promise<void> {
    const tf = await import('@tensorflow/tfjs');
    if (this.backend === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(distDir + path.sep);
    }
    if (!(await tf.setBackend(this.backend))) throw new Error(`TF.js backend ${this.backend} could not start`);
    await tf.ready();
    const jsonFile = path.join(this.modelDir, 'facemesh.json');
    if (!fs.existsSync(jsonFile)) throw new Error(`--facemesh-tfjs ${this.modelDir}: no facemesh.json in it`);
    let json: ModelJson;
    try {
      json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as ModelJson;
    } catch (err) {
      throw new Error(`--facemesh-tfjs ${jsonFile}: not a readable TF.js model.json (${(err as Error).message})`);
    }
    const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
    const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(this.modelDir, p))));
    const all = Buffer.concat(buffers);
    const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
    const handler = tf.io.fromMemory({
      modelTopology: json.modelTopology as object,
      weightSpecs: weightSpecs as never,
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature as object,
    } as never);
    this.model = await tf.loadGraphModel(handler);
    this.tf = tf;
  }

  async landmarks(crops: Uint8Array[]): Promise<FaceLandmarks[]> {
    const tf = this.tf;
    const model = this.model;
    if (!tf || !model) throw new Error('FaceMesh landmarker used before start()');
    if (crops.length === 0) return [];
    const size = FACEMESH_INPUT * FACEMESH_INPUT * 3;
    const input = new Float32Array(size * crops.length);
    crops.forEach((crop, i) => {
      if (crop.length !== size) throw new Error(`FaceMesh crop ${i} has ${crop.length} bytes, expected ${size}`);
      for (let j = 0; j < size; j++) input[i * size + j] = crop[j] / 255;
    });
    const x = tf.tensor4d(input, [crops.length, FACEMESH_INPUT, FACEMESH_INPUT, 3]);
    try {
      const out = model.execute(x, ['Identity_2:0', 'Identity_1:0']) as import('@tensorflow/tfjs').Tensor[];
      const mesh = (await out[0].data()) as Float32Array;
      const flag = (await out[1].data()) as Float32Array;
      out.forEach((t) => t.dispose());
      const n = mesh.length / crops.length;
      return crops.map((_, i) => ({ mesh: mesh.slice(i * n, (i + 1) * n), faceScore: flag[i] }));
    } finally {
      x.dispose();
    }
  }

  async stop(): Promise<void> {
    try {
      this.model?.dispose();
    } catch {
      /* already gone */
    }
    this.model = null;
    this.tf = null;
  }
}
