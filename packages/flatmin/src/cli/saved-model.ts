/**
 * Load a tfjs-layers model saved as `model.json` plus its weight files (what `model.save` writes
 * with tfjs-node's `file://` handler or a browser's `downloads://`), with no file handler of its
 * own: the JSON and the weight shards are read from disk and handed to `tf.io.fromMemory`.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { UsageError } from './io.js';

/** A saved model's `model.json` (the fields read here). */
interface ModelJson {
  readonly modelTopology: object;
  readonly weightsManifest: ReadonlyArray<{ readonly paths: readonly string[]; readonly weights: tf.io.WeightsManifestEntry[] }>;
}

/** The `model.json` of a path: the path itself when it is a file, else `<dir>/model.json`. */
export function modelJsonPath(path: string): string {
  const absolute = resolve(path);
  const file = existsSync(absolute) && statSync(absolute).isDirectory() ? join(absolute, 'model.json') : absolute;
  if (!existsSync(file)) throw new UsageError(`flatmin landscape: --load ${path}: no model.json there`);
  return file;
}

/** A name for a saved model in tables and file names: its folder's name (or the file's, without .json). */
export function savedModelName(path: string): string {
  const file = modelJsonPath(path);
  return basename(file) === 'model.json' ? basename(dirname(file)) : basename(file, '.json');
}

/** Load the model saved at `path` (a folder with `model.json`, or the `model.json` itself). */
export async function loadSavedModel(path: string): Promise<tfl.LayersModel> {
  const file = modelJsonPath(path);
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
  } catch (error) {
    throw new UsageError(`flatmin landscape: --load ${path}: ${file} is not a tfjs model.json (${(error as Error).message})`);
  }
  if (json.modelTopology === undefined || !Array.isArray(json.weightsManifest)) {
    throw new UsageError(`flatmin landscape: --load ${path}: ${file} has no modelTopology/weightsManifest (is it a tfjs-layers model.json?)`);
  }
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const shards = json.weightsManifest.flatMap((group) => group.paths.map((p: string) => readFileSync(join(dirname(file), p))));
  const bytes = new Uint8Array(shards.reduce((n, s) => n + s.byteLength, 0));
  let offset = 0;
  for (const shard of shards) {
    bytes.set(shard, offset);
    offset += shard.byteLength;
  }
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: bytes.buffer }));
}
