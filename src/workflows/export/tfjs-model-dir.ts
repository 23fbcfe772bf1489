/**
 * TF.js layers models on disk (model.json + weight shards) without tfjs-node: the files are read here and handed to
 * tf.io.fromMemory, so no fetch and no native binding is needed.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../core/files.js';

export class LayersModelDirError extends Error {}

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/** Reads dir/model.json and its weight files into ModelArtifacts; one clear error for anything missing or invalid. */
export function readLayersModelArtifacts(dir: string): tf.io.ModelArtifacts {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new LayersModelDirError(`TF.js model ${dir}: no such folder`);
  const jsonFile = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonFile)) throw new LayersModelDirError(`TF.js model ${dir}: no model.json in it`);
  let json: ModelJson;
  try {
    json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as ModelJson;
  } catch (err) {
    throw new LayersModelDirError(`TF.js model ${jsonFile}: not valid JSON (${(err as Error).message})`);
  }
  if (json.format && json.format !== 'layers-model')
    throw new LayersModelDirError(`TF.js model ${jsonFile}: format is '${json.format}', expected a layers model (graph models cannot be exported)`);
  if (!json.modelTopology || typeof json.modelTopology !== 'object')
    throw new LayersModelDirError(`TF.js model ${jsonFile}: no modelTopology`);
  if (!Array.isArray(json.weightsManifest)) throw new LayersModelDirError(`TF.js model ${jsonFile}: no weightsManifest`);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) throw new LayersModelDirError(`TF.js model ${dir}: weight file ${p} named in model.json is missing`);
      buffers.push(fs.readFileSync(file));
    }
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return { modelTopology: json.modelTopology as object, weightSpecs, weightData, format: json.format, generatedBy: json.generatedBy };
}

/** Loads a TF.js layers model from a folder holding model.json and its weight files. */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  const artifacts = readLayersModelArtifacts(dir);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new LayersModelDirError(`TF.js model ${dir}: cannot be loaded (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Saves a layers model as dir/model.json + dir/weights.bin (each file written atomically). */
export async function saveLayersModelToDir(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes = data === undefined ? new Uint8Array(0)
        : Array.isArray(data) ? new Uint8Array(tf.io.concatenateArrayBuffers(data))
        : new Uint8Array(data);
      writeFileAtomic(path.join(dir, 'weights.bin'), bytes);
      const json = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
    }),
  );
}
