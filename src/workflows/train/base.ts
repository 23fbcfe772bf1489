import fs from 'node:fs';
import path from 'node:path';
import { sha256File, writeFileAtomic } from '../../core/files.js';
import { createLogger } from '../../core/log.js';
import { loadLayersModelFromDir } from '../export/tfjs-model-dir.js';
import { featureExtractorToOnnx } from '../export/base-features.js';
import type { HeadPool } from '../export/head-pool.js';
import { buildMobileNetV2 } from './mobilenet.js';

/**
 * The frozen MobileNetV2 base: a TF.js layers model folder (model.json + weights) and base.onnx, its pooled
 * feature extractor for ONNX Runtime. base.onnx is made with the exporter when missing (in the base folder,
 * or the cache when that folder is read-only); for another input size the base is rebuilt at that size with
 * the same weights.
 */
const log = createLogger('train');

export interface BaseInfo {
  dir: string;
  name: string;
  alpha: number;
  inputSize: number;
  onnx: string;
  onnxSha256: string;
  /** sha256 of the TF.js weights (what the card records as the base). */
  weightsSha256: string;
  licence: string;
}

const ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];

interface LayerJson {
  name?: string;
  config: { name?: string; filters?: number; batch_input_shape?: Array<number | null> };
}

function topologyLayers(dir: string): LayerJson[] {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new Error(`base ${dir}: no model.json in it (a TF.js layers MobileNetV2 without top is expected)`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { modelTopology?: { config?: { layers?: LayerJson[] }; model_config?: { config?: { layers?: LayerJson[] } } } };
  const layers = json.modelTopology?.config?.layers ?? json.modelTopology?.model_config?.config?.layers;
  if (!layers) throw new Error(`base ${dir}: model.json is not a TF.js layers model`);
  return layers;
}

/** Width multiplier from the last projection (320·alpha channels, rounded to 8) and the native input size. */
export function describeBase(dir: string): { alpha: number; nativeSize: number | null } {
  const layers = topologyLayers(dir);
  const proj = layers.find((l) => (l.name ?? l.config.name) === 'block_16_project');
  if (!proj?.config.filters) throw new Error(`base ${dir}: no block_16_project layer, so not a Keras MobileNetV2`);
  const ratio = proj.config.filters / 320;
  const alpha = ALPHAS.reduce((a, b) => (Math.abs(b - ratio) < Math.abs(a - ratio) ? b : a));
  const shape = layers[0]?.config.batch_input_shape;
  return { alpha, nativeSize: shape && typeof shape[1] === 'number' ? shape[1] : null };
}

function weightsSha(dir: string): string {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).sort();
  return sha256File(path.join(dir, files[0] ?? 'model.json'));
}

export async function resolveBase(dir: string, inputSize: number, cacheDir: string, pool: HeadPool = 'global'): Promise<BaseInfo> {
  const { alpha, nativeSize } = describeBase(dir);
  const weightsSha256 = weightsSha(dir);
  const name = `mobilenet_v2_${alpha}_${inputSize}`;
  const licence = 'MobileNetV2 ImageNet weights from Keras Applications (Apache-2.0)';
  const cached = path.join(cacheDir, 'bases', `${weightsSha256.slice(0, 16)}-${inputSize}${pool === 'global' ? '' : `-${pool}`}.onnx`);
  let onnx = nativeSize === inputSize && pool === 'global' ? path.join(dir, 'base.onnx') : cached;
  if (!fs.existsSync(onnx)) {
    log.info(`base ${dir}: writing its feature extractor ${onnx} (one-off)`);
    let base = await loadLayersModelFromDir(dir);
    if (nativeSize !== inputSize) base = await resizedBase(base, alpha, inputSize);
    const bytes = featureExtractorToOnnx(base, pool);
    try {
      writeFileAtomic(onnx, bytes);
    } catch (err) {
      onnx = cached;
      log.info(`base ${dir}: not writable (${(err as Error).message.split('\n')[0]}); using ${onnx}`);
      writeFileAtomic(onnx, bytes);
    }
  }
  return { dir, name, alpha, inputSize, onnx, onnxSha256: sha256File(onnx), weightsSha256, licence };
}

/** The same base weights in a MobileNetV2 built for another input size (convolutions do not depend on it). */
export async function resizedBase(base: import('@tensorflow/tfjs').LayersModel, alpha: number, inputSize: number) {
  const sized = buildMobileNetV2(alpha, inputSize);
  for (const layer of sized.layers) {
    const weights = layer.getWeights();
    if (!weights.length) continue;
    layer.setWeights(base.getLayer(layer.name).getWeights());
  }
  return sized;
}

/** The TF.js base at the training input size, for assembling the full classifier. */
export async function loadBaseModel(info: BaseInfo) {
  const base = await loadLayersModelFromDir(info.dir);
  const native = base.inputs[0]!.shape[1];
  return native === info.inputSize ? base : resizedBase(base, info.alpha, info.inputSize);
}
