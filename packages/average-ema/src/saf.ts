/**
 * SAF (Du, Zhou, Feng, Tan & Goh, NeurIPS 2022, "Sharpness-Aware Training for Free"): the
 * trajectory loss λτ²·KL(softmax(f_past/τ) ‖ softmax(f/τ)) against the network's own outputs for
 * the same samples Ẽ epochs back, kept in a per-sample output memory keyed by sample index.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError, type NamedWeight } from '@flatmin/core';
import { checkNumber, checkOptions, decodeNumber, encodeNumber } from '@flatmin/core/kit';
import { trajectoryKL } from './kl.js';
import type { LossFunction } from './mesa.js';

/**
 * Options of {@link saf}.
 *
 * @example
 * ```ts
 * const options: SafOptions = { lambda: 0.3, tau: 5, epochsBack: 2, samples: 50000 };
 * const trajectory = saf(options);
 * ```
 */
export interface SafOptions {
  /** λ, the weight of the trajectory loss, ≥ 0 (default 0.8, the seed's; the official SAF script uses 0.3). */
  lambda?: number;
  /** τ, the temperature, > 0 (default 5). */
  tau?: number;
  /** Ẽ: the reference is a sample's output this many visits (epochs) back, an integer ≥ 1 (default 3). */
  epochsBack?: number;
  /** The number of training samples (sample indices are 0 … samples − 1), an integer ≥ 1: the memory's size up front. When absent it grows to the largest index seen. */
  samples?: number;
}

/** The per-sample trajectory loss {@link saf} makes, with its output memory. */
export interface SafTrajectory {
  /** The checked options (defaults filled in). */
  readonly config: Readonly<{
    /** λ, the weight of the trajectory term. */
    lambda: number;
    /** τ, the softmax temperature. */
    tau: number;
    /** Ẽ, how many visits back the remembered outputs are. */
    epochsBack: number;
    /** The number of samples the memory was sized for, when given. */
    samples?: number;
  }>;
  /**
   * λτ² · (1/B) Σ_b Σ_classes p_b (log p_b − log q_b), p = softmax(f_past/τ) the outputs remembered
   * for `indices[b]` from Ẽ visits back (no gradient), q = softmax(studentLogits/τ); a sample with
   * fewer than Ẽ recorded visits adds 0. `indices` are the batch's sample indices (integers ≥ 0,
   * distinct, one per row of `studentLogits`, host numbers as a data loader gives them). The first
   * call since the last {@link SafTrajectory.record} also remembers `studentLogits` (its value) as
   * these samples' outputs of this visit — under `sharpnessAware` the clean pass, not the
   * adversarial one. No host read.
   */
  trajectoryLoss(studentLogits: tf.Tensor, indices: readonly number[] | Int32Array): tf.Scalar;
  /** After the optimizer's step: store the outputs the first `trajectoryLoss` call of the step remembered (each sample's visit count + 1). No host read. */
  record(): void;
  /** Not available: `model.fit` gives a loss function no sample indices. Throws a `FlatminError` showing the custom-loop call. */
  loss(base: LossFunction): LossFunction;
  /** Recorded visits of sample `index` (0 for one never seen). */
  visits(index: number): number;
  /** The memory and visit counts as named tensors (`flatmin/saf/memory`, `flatmin/saf/visits`, `flatmin#/saf/epochsBack`): fresh handles the caller disposes. */
  getWeights(): NamedWeight[];
  /** Restore what {@link SafTrajectory.getWeights} saved (copied: the caller keeps its tensors); a saved `epochsBack` that differs throws a `FlatminError`. */
  setWeights(weights: readonly NamedWeight[]): Promise<void>;
  /** Free the memory. */
  dispose(): void;
}

const WHERE = 'saf';
const KNOWN_KEYS = ['lambda', 'tau', 'epochsBack', 'samples'] as const;
const MEMORY = 'flatmin/saf/memory';
const VISITS = 'flatmin/saf/visits';
const BACK = 'flatmin#/saf/epochsBack';

const CUSTOM_LOOP = `const loss = () => { const z = model.apply(x, { training: true }); return tf.add(crossEntropy(y, z), trajectory.trajectoryLoss(z, indices)); };
optimizer.minimize(loss); trajectory.record();`;

/**
 * SAF, "Sharpness-Aware Training for Free" (Du, Zhou, Feng, Tan & Goh, NeurIPS 2022): the
 * trajectory loss λτ²·KL(softmax(f_past(x)/τ) ‖ softmax(f(x)/τ)) added to the training loss, where
 * f_past(x) is the network's own output for the same sample Ẽ epochs earlier — a sharpness proxy
 * with no extra forward or backward pass and no EMA model, at the cost of a memory of
 * Ẽ × samples × classes outputs (on the device).
 *
 * Each sample's outputs sit in a ring of Ẽ slots indexed by its visit count, so "Ẽ epochs back" is
 * "Ẽ visits back" (the same with one visit per sample per epoch, as with a shuffled epoch). A
 * custom loop passes the batch's sample indices: `trajectoryLoss(z, indices)` inside the loss,
 * `record()` after the step. `model.fit` gives a loss function no indices: {@link SafTrajectory.loss}
 * throws and shows the custom-loop call. Under `model.fit`, use {@link mesa} (the EMA teacher needs no indices).
 *
 * @param options see {@link SafOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { saf } from '@flatmin/average-ema';
 *
 * const trajectory = saf({ lambda: 0.3, epochsBack: 2, samples: xTrain.shape[0] });
 * const optimizer = tf.train.sgd(0.1);
 * for (const { x, y, indices } of batches) { // indices: the batch's sample indices (host numbers)
 *   optimizer.minimize(() => { const z = model.apply(x, { training: true }) as tf.Tensor; return tf.add(tf.losses.softmaxCrossEntropy(y, z), trajectory.trajectoryLoss(z, indices)); });
 *   trajectory.record();
 * }
 * ```
 */
export function saf(options?: SafOptions): SafTrajectory {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const lambda = checkNumber('lambda', checked.lambda === undefined ? 0.8 : checked.lambda, { min: 0 }, WHERE);
  const tau = checkNumber('tau', checked.tau === undefined ? 5 : checked.tau, { min: 0, minExclusive: true }, WHERE);
  const back = checkNumber('epochsBack', checked.epochsBack === undefined ? 3 : checked.epochsBack, { min: 1, integer: true }, WHERE);
  const samples = checked.samples === undefined ? undefined : checkNumber('samples', checked.samples, { min: 1, integer: true }, WHERE);

  /** Rows i·Ẽ + slot, one per (sample, slot); null until the first record (the class count comes from it). */
  let memory: tf.Tensor2D | null = null;
  let visits: Int32Array = new Int32Array(samples ?? 0);
  let pending: { logits: tf.Tensor2D; indices: number[] } | null = null;

  const checkIndices = (logits: tf.Tensor, indices: readonly number[] | Int32Array): number[] => {
    if (!(logits instanceof tf.Tensor) || logits.rank !== 2) throw new FlatminError('saf(...).trajectoryLoss(studentLogits, indices): studentLogits must be a [batch, classes] tensor.');
    const list = Array.from(indices as ArrayLike<number>);
    if (list.length !== logits.shape[0]) {
      throw new FlatminError(`saf(...).trajectoryLoss: ${list.length} indices for a batch of ${logits.shape[0]}: give one sample index per row.`);
    }
    const bad = list.find((i) => !Number.isInteger(i) || i < 0 || (samples !== undefined && i >= samples));
    if (bad !== undefined) throw new FlatminError(`saf(...).trajectoryLoss: sample index ${bad} is not an integer in [0, ${samples ?? '∞'}).`);
    if (new Set(list).size !== list.length) throw new FlatminError('saf(...).trajectoryLoss: the batch repeats a sample index (each row needs its own sample).');
    return list;
  };
  const rowsOf = (indices: readonly number[]): Int32Array => Int32Array.from(indices, (i) => i * back + ((visits[i] ?? 0) % back));

  /** Grow the host counts and the memory to hold sample `max` (doubling, so growth stops). */
  const ensure = (max: number, classes: number): void => {
    if (memory !== null && memory.shape[1] !== classes) throw new FlatminError(`saf: the logits have ${classes} classes, the memory ${memory.shape[1]}.`);
    const capacity = Math.max(visits.length, samples ?? 0);
    const needed = max + 1 > capacity ? Math.max(max + 1, 2 * capacity) : capacity;
    if (needed > visits.length) {
      const grown = new Int32Array(needed);
      grown.set(visits);
      visits = grown;
    }
    const rows = needed * back;
    if (memory === null) memory = tf.keep(tf.zeros([rows, classes])) as tf.Tensor2D;
    else if (memory.shape[0] < rows) {
      const old = memory;
      memory = tf.keep(tf.concat([old, tf.zeros([rows - old.shape[0], classes])], 0)) as tf.Tensor2D;
      old.dispose();
    }
  };

  const trajectory: SafTrajectory = {
    config: Object.freeze(samples === undefined ? { lambda, tau, epochsBack: back } : { lambda, tau, epochsBack: back, samples }),
    trajectoryLoss: (studentLogits, indices) => {
      const list = checkIndices(studentLogits, indices);
      if (pending === null) pending = { logits: tf.keep(tf.clone(studentLogits)) as tf.Tensor2D, indices: list };
      const mask = list.map((i) => ((visits[i] ?? 0) >= back ? 1 : 0));
      return tf.tidy(() => {
        if (memory === null || !mask.includes(1)) return tf.mul(tf.sum(studentLogits), 0) as tf.Scalar;
        const past = tf.gather(memory, tf.tensor1d(rowsOf(list), 'int32'));
        return trajectoryKL(studentLogits, past, lambda, tau, tf.tensor1d(mask));
      });
    },
    record: () => {
      if (pending === null) throw new FlatminError(`saf(...).record(): nothing to record — call trajectoryLoss(studentLogits, indices) in the step's loss first:\n${CUSTOM_LOOP}`);
      const { logits, indices } = pending;
      pending = null;
      ensure(Math.max(...indices), logits.shape[1]);
      const next = tf.tidy(() => tf.tensorScatterUpdate(memory!, tf.tensor2d(rowsOf(indices), [indices.length, 1], 'int32'), logits));
      memory!.dispose();
      memory = tf.keep(next) as tf.Tensor2D;
      logits.dispose();
      for (const i of indices) visits[i] = (visits[i] ?? 0) + 1;
    },
    loss: () => {
      throw new FlatminError(
        `saf(...).loss: model.fit gives a loss function no sample indices, and SAF's reference outputs are per sample. Use a custom loop:\n${CUSTOM_LOOP}\n(or mesa(...), whose EMA teacher needs no indices, under model.fit).`,
      );
    },
    visits: (index) => visits[index] ?? 0,
    getWeights: () => {
      const out: NamedWeight[] = [
        { name: VISITS, tensor: tf.tensor1d(visits, 'int32') },
        { name: BACK, tensor: encodeNumber(back) },
      ];
      if (memory !== null) out.push({ name: MEMORY, tensor: tf.clone(memory) });
      return out;
    },
    setWeights: async (weights) => {
      let savedMemory: tf.Tensor2D | null = null;
      let savedVisits: Int32Array | null = null;
      for (const { name, tensor } of weights) {
        if (name === MEMORY) savedMemory = tensor as tf.Tensor2D;
        else if (name === VISITS) savedVisits = Int32Array.from(await tensor.data());
        else if (name === BACK) {
          const saved = await decodeNumber(tensor);
          if (saved !== back) throw new FlatminError(`saf: the saved memory has epochsBack ${saved}, this one ${back}.`);
        } else throw new FlatminError(`saf: setWeights got '${name}', not a weight saved by saf(...).getWeights().`);
      }
      if (savedVisits === null) throw new FlatminError(`saf: setWeights needs '${VISITS}' (saved by getWeights()).`);
      trajectory.dispose();
      visits = savedVisits;
      memory = savedMemory === null ? null : (tf.keep(tf.clone(savedMemory)) as tf.Tensor2D);
    },
    dispose: () => {
      memory?.dispose();
      memory = null;
      pending?.logits.dispose();
      pending = null;
    },
  };
  return trajectory;
}
