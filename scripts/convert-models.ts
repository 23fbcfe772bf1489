/**
 * `npm run models:convert [-- <shared models dir>]`: converts the MediaPipe TF.js graph models
 * (BlazeFace front/back, FaceMesh) to ONNX under models/<name>/, with a README giving licence and sha256s.
 * Only the .onnx ships; the TF.js originals stay in the shared folder.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertGraphModel, readTfjsGraphModel } from '../src/onnx/graph-convert.js';
import { sha256, sha256File, writeFileAtomic } from '../src/core/files.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CONVERTED_MODELS = ['blazeface-front', 'blazeface-back', 'facemesh'] as const;

const ABOUT: Record<(typeof CONVERTED_MODELS)[number], string> = {
  'blazeface-front': 'BlazeFace short-range face detector (faces within about 2 m). Input 1×128×128×3 RGB in [-1, 1]; outputs 896 anchors (512 at stride 8, 384 at stride 16): 16 regressors (box + 6 keypoints) and 1 score logit each.',
  'blazeface-back': 'BlazeFace full-range ("back camera") face detector. Input 1×256×256×3 RGB in [-1, 1]; outputs 896 anchors (512 at stride 16, 384 at stride 32): 16 regressors and 1 score logit each.',
  facemesh: 'MediaPipe FaceMesh. Input N×192×192×3 RGB in [0, 1] (a face crop); outputs 468 landmarks (x, y, z in crop pixels, 1404 values), a face-flag score (already a sigmoid) and 266 contour values.',
};

export function convertModel(sharedDir: string, name: string, outRoot: string): { onnxFile: string; sourceSha: string; onnxSha: string } {
  const jsonFile = path.join(sharedDir, name, `${name}.json`);
  const { json, weightData } = readTfjsGraphModel(jsonFile);
  const result = convertGraphModel(json, weightData, name);
  const outDir = path.join(outRoot, name);
  const onnxFile = path.join(outDir, `${name}.onnx`);
  writeFileAtomic(onnxFile, result.onnx);
  const sources = [jsonFile, ...json.weightsManifest.flatMap((g) => g.paths.map((p) => path.join(path.dirname(jsonFile), p)))];
  const sourceLines = sources.map((f) => `    ${sha256File(f)}  ${path.basename(f)}`).join('\n');
  const onnxSha = sha256(result.onnx);
  const halfWeights = json.weightsManifest.some((g) => g.weights.some((w) => w.quantization));
  const changes = `${halfWeights ? 'dequantized weights (float16 → float32), ' : ''}NHWC → NCHW layout inside`;
  const shape = (s: number[]) => `[${s.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`;
  writeFileAtomic(
    path.join(outDir, 'README.md'),
    `# ${name}\n\n${ABOUT[name as keyof typeof ABOUT] ?? ''}\n\n` +
      `- Inputs: ${result.inputs.map((i) => `\`${i.name}\` ${shape(i.shape)} (NHWC)`).join(', ')}\n` +
      `- Outputs: ${result.outputs.map((o) => `\`${o.name}\` ${shape(o.shape)}`).join(', ')}\n\n` +
      `## Licence\n\nModel and weights: Google MediaPipe, Apache-2.0. Converted to a TensorFlow.js graph model by\n` +
      `Vladimir Mandic (MIT). Converted from TF.js to ONNX by maskwatch's \`scripts/convert-models.ts\`\n` +
      `(src/onnx/graph-convert.ts); the weights are unchanged apart from ${changes}.\n` +
      `See LICENSE.md.\n\n## sha256\n\nOriginal TF.js files:\n\n${sourceLines}\n\nConverted:\n\n    ${onnxSha}  ${name}.onnx\n`,
  );
  writeFileAtomic(
    path.join(outDir, 'LICENSE.md'),
    `${name}.onnx is derived from Google MediaPipe's ${name} model.\n\n` +
      `- Original model: Copyright Google LLC, Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0),\n  https://github.com/google/mediapipe\n` +
      `- TensorFlow.js conversion: Vladimir Mandic, MIT License, https://github.com/vladmandic\n` +
      `- ONNX conversion: the maskwatch authors, MIT License.\n\n` +
      `Changes: format conversion only (TF.js graph → ONNX; ${changes}).\n`,
  );
  return { onnxFile, sourceSha: sha256File(jsonFile), onnxSha };
}

async function main(): Promise<void> {
  const sharedDir = path.resolve(process.argv[2] ?? path.join(ROOT, '..', 'shared', 'models'));
  for (const name of CONVERTED_MODELS) {
    const r = convertModel(sharedDir, name, path.join(ROOT, 'models'));
    console.log(`${name}: ${path.relative(ROOT, r.onnxFile)} sha256 ${r.onnxSha}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`convert-models: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
