/**
 * The data variants of `flatmin bench --repro`, made from the demo's fixed MNIST split: training
 * labels with a fraction flipped (symmetric label noise) and a long-tailed training set (a few
 * classes subsampled). Both are deterministic functions of their arguments.
 *
 * @module
 */
import { type Dataset, NUM_CLASSES, seededUniform } from './data.js';

/**
 * Symmetric label noise: exactly `round(fraction · size)` samples, chosen uniformly without
 * replacement, get a label drawn uniformly from the nine *other* classes. The images are shared;
 * only the labels are copied.
 *
 * @param dataset the clean training set.
 * @param fraction the fraction of labels to flip, in [0, 1].
 * @param seed the draw's seed (which samples, which new labels).
 * @returns the dataset with the noisy labels, and how many were flipped.
 *
 * @example
 * ```ts
 * import { loadMnist } from 'flatmin/cli';
 * import { flipLabels } from 'flatmin/cli';
 *
 * const { train } = loadMnist(1000, 1);
 * const noisy = flipLabels(train, 0.4, 1); // 400 labels changed
 * ```
 */
export function flipLabels(
  dataset: Dataset,
  fraction: number,
  seed: number,
): Dataset & {
  /** How many labels were changed. */
  readonly flipped: number;
} {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`flipLabels: fraction must be in [0, 1], got ${fraction}`);
  const random = seededUniform(seed);
  const labels = new Uint8Array(dataset.labels);
  const order = Array.from({ length: dataset.size }, (_, i) => i);
  const flipped = Math.round(fraction * dataset.size);
  // A partial Fisher–Yates: the first `flipped` entries of `order` are a uniform sample without replacement.
  for (let i = 0; i < flipped; i++) {
    const j = i + Math.floor(random() * (dataset.size - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
    const index = order[i]!;
    labels[index] = (dataset.labels[index]! + 1 + Math.floor(random() * (NUM_CLASSES - 1))) % NUM_CLASSES;
  }
  return { images: dataset.images, labels, size: dataset.size, flipped };
}

/**
 * A long-tailed training set: every sample of the head classes, and of each class in `tail` only
 * every `factor`-th sample (in the pool's fixed order), so a tail class has about 1/factor of its
 * samples.
 *
 * @param dataset the balanced training set.
 * @param tail the subsampled classes.
 * @param factor keep one tail sample in `factor` (an integer ≥ 1).
 * @returns the subset (order kept), with the number of samples per class.
 *
 * @example
 * ```ts
 * import { loadMnist, longTailed } from 'flatmin/cli';
 *
 * const { train } = loadMnist(4000, 1);
 * const imbalanced = longTailed(train, [7, 8, 9], 15); // ~400 per head class, ~27 per tail class
 * ```
 */
export function longTailed(
  dataset: Dataset,
  tail: readonly number[],
  factor: number,
): Dataset & {
  /** The samples kept per digit. */
  readonly perClass: number[];
} {
  if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`longTailed: factor must be an integer >= 1, got ${factor}`);
  const isTail = new Set(tail);
  const seen = new Array<number>(NUM_CLASSES).fill(0);
  const keep: number[] = [];
  for (let i = 0; i < dataset.size; i++) {
    const label = dataset.labels[i]!;
    if (!isTail.has(label) || seen[label]! % factor === 0) keep.push(i);
    seen[label] = seen[label]! + 1;
  }
  const pixels = dataset.images.length / dataset.size;
  const images = new Float32Array(keep.length * pixels);
  const labels = new Uint8Array(keep.length);
  const perClass = new Array<number>(NUM_CLASSES).fill(0);
  keep.forEach((index, i) => {
    images.set(dataset.images.subarray(index * pixels, (index + 1) * pixels), i * pixels);
    labels[i] = dataset.labels[index]!;
    perClass[labels[i]!] = perClass[labels[i]!]! + 1;
  });
  return { images, labels, size: keep.length, perClass };
}
