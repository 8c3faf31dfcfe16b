/**
 * `getWeights`/`setWeights` of the optimizer: every piece of state as named tensors, and the
 * renaming that keeps per-variable state attached when a reloaded model's variables get new names.
 *
 * Names: `base/<name>` the base optimizer's weights; `flatmin/<group>/<key>` tensors;
 * `flatmin#/<group>/<key>` host numbers (two int32 words of their float64 bits);
 * `flatmin/optimizer/variables` the names of the variables the state is keyed by, in the order
 * `minimize` received them.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from './errors.js';
import { type ComponentKind, COMPONENT_KINDS } from './registry.js';
import { decodeNumber, disposeState, encodeNumber } from './state.js';
import { shareData } from './tensor-math.js';
import type { Accumulated, Store } from './step/context.js';
import type { ComponentState, NamedTensors } from './types.js';

/** A named tensor, as tfjs optimizers exchange them. */
export interface NamedWeight {
  /** The entry's name (`base/…` for the base optimizer's slots, `flatmin/…` and `flatmin#/…` for flatmin's own state). */
  name: string;
  /** The entry's value. */
  tensor: tf.Tensor;
}

const BASE_PREFIX = 'base/';
const TENSOR_PREFIX = 'flatmin/';
const NUMBER_PREFIX = 'flatmin#/';

/** The weights of the base optimizer and of flatmin's store. Every tensor is a fresh handle (data shared, not copied). */
export async function exportWeights(base: tf.Optimizer, store: Store): Promise<NamedWeight[]> {
  pruneVanished(store);
  const out: NamedWeight[] = (await base.getWeights()).map((w) => ({ name: `${BASE_PREFIX}${w.name}`, tensor: w.tensor instanceof tf.Variable ? shareData(w.tensor) : w.tensor }));
  const { counters } = store;
  const numbers: Record<string, number> = {
    step: counters.steps,
    sharpCount: counters.sharpSteps,
    lastSharp: counters.lastSharp ? 1 : 0,
    microIndex: counters.microIndex,
    lossEvaluations: counters.lossEvaluations,
  };
  for (const [key, value] of Object.entries(numbers)) out.push({ name: `${NUMBER_PREFIX}optimizer/${key}`, tensor: encodeNumber(value) });
  out.push({ name: `${TENSOR_PREFIX}optimizer/random`, tensor: tf.tensor1d(Int32Array.from(store.random.getState(), (x) => x | 0), 'int32') });
  out.push({ name: `${TENSOR_PREFIX}optimizer/variables`, tensor: tf.tensor1d(store.variables.map((v) => v.name), 'string') });
  const skipped = store.telemetry.skippedCounter;
  if (skipped !== null) out.push({ name: `${TENSOR_PREFIX}optimizer/skipped`, tensor: shareData(skipped) });
  if (store.accumulator !== null) {
    for (const [name, tensor] of Object.entries(store.accumulator.sum)) out.push({ name: `${TENSOR_PREFIX}accumulator/${name}`, tensor: shareData(tensor) });
    out.push({ name: `${TENSOR_PREFIX}accumulated/loss`, tensor: shareData(store.accumulator.lossSum) });
    out.push({ name: `${NUMBER_PREFIX}accumulated/count`, tensor: encodeNumber(store.accumulator.count) });
  }
  for (const kind of COMPONENT_KINDS) {
    for (const [key, value] of Object.entries(store.states[kind])) {
      out.push(
        typeof value === 'number'
          ? { name: `${NUMBER_PREFIX}${kind}/${key}`, tensor: encodeNumber(value) }
          : { name: `${TENSOR_PREFIX}${kind}/${key}`, tensor: shareData(value) },
      );
    }
  }
  return out;
}

/**
 * Restore what {@link exportWeights} saved (tensors are copied: the caller keeps ownership). Returns
 * the saved variable names, which the next step maps onto its own variables by position.
 */
export async function importWeights(base: tf.Optimizer, store: Store, weights: NamedWeight[]): Promise<string[] | null> {
  const baseWeights = weights.filter((w) => w.name.startsWith(BASE_PREFIX)).map((w) => ({ name: w.name.slice(BASE_PREFIX.length), tensor: w.tensor }));
  if (baseWeights.length > 0) await base.setWeights(baseWeights);
  const states: Record<ComponentKind, Record<string, tf.Tensor | number>> = { perturbation: {}, schedule: {}, combiner: {}, averager: {} };
  const sum: NamedTensors = {};
  const numbers: Record<string, number> = {};
  let lossSum: tf.Scalar | null = null;
  let count = 0;
  let randomState: number[] | null = null;
  let skipped: tf.Scalar | null = null;
  let names: string[] | null = null;
  for (const { name, tensor } of weights) {
    if (name.startsWith(BASE_PREFIX)) continue;
    const isNumber = name.startsWith(NUMBER_PREFIX);
    if (!isNumber && !name.startsWith(TENSOR_PREFIX)) throw new FlatminError(`setWeights: unknown weight '${name}' (not saved by a SharpnessAwareOptimizer).`);
    const path = name.slice(isNumber ? NUMBER_PREFIX.length : TENSOR_PREFIX.length);
    const slash = path.indexOf('/');
    const group = path.slice(0, slash);
    const key = path.slice(slash + 1);
    if (group === 'optimizer') {
      if (isNumber) numbers[key] = await decodeNumber(tensor);
      else if (key === 'random') randomState = Array.from(await tensor.data());
      else if (key === 'variables') names = Array.from((await tensor.data()) as unknown as string[]);
      else if (key === 'skipped') skipped = tf.keep(tensor.clone()) as tf.Scalar;
    } else if (group === 'accumulator') {
      sum[key] = tf.keep(tensor.clone());
    } else if (group === 'accumulated') {
      if (isNumber) count = await decodeNumber(tensor);
      else lossSum = tf.keep(tensor.clone()) as tf.Scalar;
    } else if ((COMPONENT_KINDS as readonly string[]).includes(group)) {
      states[group as ComponentKind][key] = isNumber ? await decodeNumber(tensor) : tf.keep(tensor.clone());
    } else {
      throw new FlatminError(`setWeights: unknown weight '${name}'.`);
    }
  }
  for (const kind of COMPONENT_KINDS) {
    disposeState(store.states[kind]);
    store.states[kind] = states[kind];
  }
  if (store.accumulator !== null) disposeTensors([...Object.values(store.accumulator.sum), store.accumulator.lossSum]);
  store.accumulator = Object.keys(sum).length > 0 ? { sum, count, lossSum: lossSum ?? (tf.keep(tf.scalar(0)) as tf.Scalar) } : null;
  store.telemetry.skippedCounter = skipped;
  if (randomState !== null) store.random.setState(randomState);
  store.counters.steps = numbers['step'] ?? 0;
  store.counters.sharpSteps = numbers['sharpCount'] ?? 0;
  store.counters.lastSharp = (numbers['lastSharp'] ?? 0) === 1;
  store.counters.microIndex = numbers['microIndex'] ?? 0;
  store.counters.lossEvaluations = numbers['lossEvaluations'] ?? 0;
  return names;
}

/**
 * Re-key per-variable state saved under `saved` names onto `current` variables (by position, as
 * tfjs' own optimizers match their slots), when the names differ: `tf.loadLayersModel` in the same
 * process names the new model's variables `dense_Dense1/kernel_1`. Then drop the state of vanished variables.
 */
export function renameState(store: Store, saved: readonly string[], current: readonly tf.Variable[]): void {
  if (saved.length === current.length) {
    const renames = new Map<string, string>();
    saved.forEach((name, i) => {
      if (name !== current[i]!.name) renames.set(name, current[i]!.name);
    });
    if (renames.size > 0) {
      for (const kind of COMPONENT_KINDS) store.states[kind] = renameKeys(store.states[kind], renames, false);
      if (store.accumulator !== null) store.accumulator = { ...store.accumulator, sum: renameKeys(store.accumulator.sum, renames, true) } as Accumulated;
    }
  }
  pruneVanished(store);
}

/** The variable a per-variable key belongs to (`name:slot`), or null for a global key. */
export function variableOfKey(key: string): string | null {
  const colon = key.lastIndexOf(':');
  return colon > 0 ? key.slice(0, colon) : null;
}

/** Rename per-variable keys (`name:slot`, or bare variable names when `bare`). */
function renameKeys<T extends ComponentState | NamedTensors>(state: T, renames: Map<string, string>, bare: boolean): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) {
    const owner = bare ? key : variableOfKey(key);
    const renamed = owner === null ? undefined : renames.get(owner);
    out[renamed === undefined ? key : `${renamed}${key.slice(owner!.length)}`] = value;
  }
  return out as T;
}

/** Drop (and dispose) the state of variables that no longer exist. */
function pruneVanished(store: Store): void {
  const registered = tf.engine().registeredVariables;
  for (const kind of COMPONENT_KINDS) {
    const state = store.states[kind];
    const stale = Object.keys(state).filter((key) => {
      const owner = variableOfKey(key);
      return owner !== null && registered[owner] === undefined;
    });
    if (stale.length === 0) continue;
    const next: Record<string, tf.Tensor | number> = { ...state };
    for (const key of stale) {
      const value = next[key];
      if (typeof value !== 'number') value?.dispose();
      delete next[key];
    }
    store.states[kind] = next;
  }
}

function disposeTensors(tensors: tf.Tensor[]): void {
  for (const t of tensors) if (!t.isDisposed) t.dispose();
}
