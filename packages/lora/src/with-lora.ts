/**
 * Put LoRA adapters on the dense layers of an existing model, and fold them back.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FlatminConfigError } from '@flatmin/core';
import { checkNumber, checkOptions } from '@flatmin/core/kit';
import { checkLoraDenseOptions, LoraDense } from './lora-dense.js';

/**
 * Options of {@link withLora}.
 *
 * @example
 * ```ts
 * const options: WithLoraOptions = { rank: 4, alpha: 8, seed: 0, layers: ['hidden'] };
 * ```
 */
export interface WithLoraOptions {
  /** r, a whole number ≥ 1 (default 8). */
  rank?: number;
  /** α, a finite number > 0 (default: `rank`). */
  alpha?: number;
  /** Seed of A's initialization; the i-th wrapped layer uses `seed + i` (default 0). */
  seed?: number;
  /** Standard deviation of A's Gaussian initialization (default 1/√in per layer). */
  initStddev?: number;
  /** Whether the copied biases are trained (default false). */
  trainableBias?: boolean;
  /** Which Dense layers to wrap: their names, or a predicate on the layer (default: every `Dense` layer). */
  layers?: readonly string[] | ((layer: tfl.layers.Layer) => boolean);
  /** Freeze every other layer of the copy (`trainable = false`), as LoRA fine-tuning does (default true). */
  freeze?: boolean;
}

interface LayerEntry {
  className: string;
  config: Record<string, unknown>;
  [key: string]: unknown;
}

/** The model's config with its layer entries, and the class that rebuilds it. */
function configOf(model: tfl.LayersModel): { config: { layers: LayerEntry[] } & Record<string, unknown>; rebuild: (config: object) => tfl.LayersModel } {
  if (!(model instanceof tfl.LayersModel)) throw new FlatminConfigError('model', model, 'a tfjs-layers model (tf.sequential or tf.model)');
  const config = structuredClone(model.getConfig()) as unknown as { layers: LayerEntry[] } & Record<string, unknown>;
  const cls = model.constructor as unknown as { fromConfig(cls: unknown, config: object): tfl.LayersModel };
  return { config, rebuild: (next) => cls.fromConfig(cls, next as tf.serialization.ConfigDict) };
}

/** The tfjs-layers keys a rebuilt layer keeps from the old one. */
function layerKeys(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['name', 'trainable', 'batchInputShape', 'dtype']) if (config[key] !== undefined && config[key] !== null) out[key] = config[key];
  return out;
}

/**
 * A copy of `model` in which every (selected) `Dense` layer is a {@link LoraDense} with W₀ = the
 * dense kernel and the same bias, units and activation (LoRA, Hu et al., ICLR 2022: adapt a
 * pretrained model through low-rank updates of its frozen weights). B starts at zero, so the copy
 * predicts exactly what `model` does. Every other layer keeps its weights (copied, not shared) and,
 * with `freeze` (default), is frozen. `model` itself is left as it was. The copy is not compiled.
 *
 * A Dense layer's regularizers and constraints are not carried over (W₀ is frozen; add BAR with
 * {@link balancedness}). Works for `tf.sequential` and functional `tf.model` models whose layers
 * are serializable.
 *
 * @param model a tfjs-layers model (e.g. loaded with `tf.loadLayersModel`).
 * @param options see {@link WithLoraOptions}; a bad value throws a `FlatminConfigError` naming the key.
 * @returns the LoRA model.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { withLora } from '@flatmin/lora';
 *
 * const pretrained = tf.sequential({ layers: [tf.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }), tf.layers.dense({ units: 2 })] });
 * const lora = withLora(pretrained, { rank: 2, alpha: 4 });
 * lora.trainableWeights.map((w) => w.name); // the lora_A and lora_B of both layers
 * ```
 */
export function withLora(model: tfl.LayersModel, options?: WithLoraOptions): tfl.LayersModel {
  const where = 'withLora';
  const o = checkOptions(options, ['rank', 'alpha', 'seed', 'initStddev', 'trainableBias', 'layers', 'freeze'], where);
  const rank = checkNumber('rank', o.rank === undefined ? 8 : o.rank, { min: 1, integer: true }, where);
  const alpha = checkNumber('alpha', o.alpha === undefined ? rank : o.alpha, { min: 0, minExclusive: true }, where);
  const seed = checkNumber('seed', o.seed === undefined ? 0 : o.seed, { integer: true }, where);
  const initStddev = o.initStddev === undefined ? undefined : checkNumber('initStddev', o.initStddev, { min: 0, minExclusive: true }, where);
  const trainableBias = o.trainableBias === undefined ? false : o.trainableBias;
  if (typeof trainableBias !== 'boolean') throw new FlatminConfigError('trainableBias', trainableBias, 'true or false', where);
  const freeze = o.freeze === undefined ? true : o.freeze;
  if (typeof freeze !== 'boolean') throw new FlatminConfigError('freeze', freeze, 'true or false', where);
  const select = o.layers;
  if (select !== undefined && typeof select !== 'function' && !(Array.isArray(select) && select.every((s) => typeof s === 'string'))) {
    throw new FlatminConfigError('layers', select, 'an array of layer names or a predicate (layer) => boolean', where);
  }
  const { config, rebuild } = configOf(model);
  const chosen = new Set<string>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Dense') continue;
    const picked = select === undefined ? true : typeof select === 'function' ? select(layer) : select.includes(layer.name);
    if (picked) chosen.add(layer.name);
  }
  if (Array.isArray(select)) {
    for (const name of select) if (!chosen.has(name)) throw new FlatminConfigError('layers', name, `the name of a Dense layer of the model (${[...model.layers].filter((l) => l.getClassName() === 'Dense').map((l) => l.name).join(', ')})`, where);
  }
  let index = 0;
  for (const entry of config.layers) {
    if (entry.className !== 'Dense' || !chosen.has(entry.config['name'] as string)) continue;
    const next = {
      ...layerKeys(entry.config),
      units: entry.config['units'] as number,
      activation: (entry.config['activation'] ?? 'linear') as string,
      useBias: entry.config['useBias'] !== false,
      trainableBias,
      rank,
      alpha,
      seed: seed + index,
      ...(initStddev === undefined ? {} : { initStddev }),
    };
    checkLoraDenseOptions(next as never);
    entry.className = LoraDense.className;
    entry.config = next;
    index += 1;
  }
  const copy = rebuild(config);
  copyWeights(model, copy, (from, to) => {
    if (to instanceof LoraDense) {
      const [kernel, bias] = from.getWeights();
      to.kernel.assign(kernel!);
      if (to.bias !== null && bias !== undefined) to.bias.assign(bias);
    } else {
      to.setWeights(from.getWeights());
      if (freeze && to.weights.length > 0) to.trainable = false;
    }
  });
  return copy;
}

/**
 * A plain copy of a LoRA model: every {@link LoraDense} becomes a `tf.layers.dense` with the merged
 * kernel W₀ + (α/r)·AᵀBᵀ (tfjs layout; the paper's W₀ + (α/r)BA), the same bias, units and
 * activation, trainable (LoRA, Hu et al., ICLR 2022: merging removes the adapters' inference cost).
 * Every other layer keeps its weights (copied) and its `trainable` flag. The LoRA model is left as
 * it was (this returns a new model rather than updating in place, so the adapters survive for more
 * fine-tuning). The copy is not compiled.
 *
 * @param model a tfjs-layers model with LoRA layers.
 * @returns the merged model (predictions equal to float32 rounding).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { loraDense, mergeLora } from '@flatmin/lora';
 *
 * const lora = tf.sequential({ layers: [loraDense({ units: 2, rank: 1, inputShape: [3] })] });
 * const plain = mergeLora(lora); // one Dense layer, kernel W₀ + (α/r)AᵀBᵀ
 * ```
 */
export function mergeLora(model: tfl.LayersModel): tfl.LayersModel {
  const { config, rebuild } = configOf(model);
  for (const entry of config.layers) {
    if (entry.className !== LoraDense.className) continue;
    entry.className = 'Dense';
    entry.config = { ...layerKeys(entry.config), trainable: true, units: entry.config['units'], activation: entry.config['activation'], useBias: entry.config['useBias'] };
  }
  const copy = rebuild(config);
  copyWeights(model, copy, (from, to) => {
    if (from instanceof LoraDense) {
      const merged = tf.tidy(() => tf.add(from.kernel, tf.mul(tf.matMul(from.loraA, from.loraB, true, true), from.scale)));
      const weights = from.bias === null ? [merged] : [merged, from.bias];
      to.setWeights(weights);
      merged.dispose();
    } else {
      to.setWeights(from.getWeights());
    }
  });
  return copy;
}

/** Pair the layers of two models built from the same topology (by name) and copy each pair's weights. */
function copyWeights(from: tfl.LayersModel, to: tfl.LayersModel, copy: (from: tfl.layers.Layer, to: tfl.layers.Layer) => void): void {
  for (const target of to.layers) {
    const source = from.getLayer(target.name);
    copy(source, target);
  }
}
