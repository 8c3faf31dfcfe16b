import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IMAGE_SIZE, loadMnist, NUM_CLASSES, poolSizes, splitPools, toTensors } from '../../src/cli/data.js';

describe('MNIST data', () => {
  afterEach(() => vi.restoreAllMocks());

  it('splits the 10,000 digits into fixed pools of 8,000 and 2,000 that do not overlap', () => {
    expect(poolSizes()).toEqual({ train: 8000, test: 2000 });
    const { train, test } = splitPools();
    const key = (ref: { digit: number; index: number }) => `${ref.digit}:${ref.index}`;
    const trainKeys = new Set(train.map(key));
    expect(trainKeys.size).toBe(8000);
    expect(test.some((ref) => trainKeys.has(key(ref)))).toBe(false);
  });

  it('keeps the class balance in both pools (80% of each digit trains)', () => {
    const { train, test } = splitPools();
    for (let digit = 0; digit < NUM_CLASSES; digit++) {
      const inTrain = train.filter((ref) => ref.digit === digit).length;
      const inTest = test.filter((ref) => ref.digit === digit).length;
      expect(inTrain / (inTrain + inTest)).toBeCloseTo(0.8, 2);
    }
  });

  it('is deterministic: the same samples in the same order, whatever Math.random says', () => {
    const first = loadMnist(300, 100);
    vi.spyOn(Math, 'random').mockReturnValue(0.123);
    const second = loadMnist(300, 100);
    expect(second.train.labels).toEqual(first.train.labels);
    expect(second.train.images).toEqual(first.train.images);
    expect(second.test.labels).toEqual(first.test.labels);
    // A smaller request is a prefix of a larger one.
    const smaller = loadMnist(50, 20);
    expect(smaller.train.labels).toEqual(first.train.labels.subarray(0, 50));
    expect(smaller.test.images).toEqual(first.test.images.subarray(0, 20 * IMAGE_SIZE));
  });

  it('gives 784 pixels in [0, 1] per image and every digit early in the (shuffled) order', () => {
    const { train, test } = loadMnist(200, 100);
    expect(train.size).toBe(200);
    expect(train.images.length).toBe(200 * IMAGE_SIZE);
    expect(test.images.length).toBe(100 * IMAGE_SIZE);
    expect(train.images.reduce((a, b) => Math.min(a, b))).toBe(0);
    expect(train.images.reduce((a, b) => Math.max(a, b))).toBeLessThanOrEqual(1);
    expect(new Set(train.labels).size).toBe(NUM_CLASSES);
    expect(new Set(test.labels).size).toBe(NUM_CLASSES);
  });

  it('makes tensors of the right shapes with one-hot labels', () => {
    const { train } = loadMnist(64, 1);
    const { xs, ys } = toTensors(train);
    expect(xs.shape).toEqual([64, IMAGE_SIZE]);
    expect(ys.shape).toEqual([64, NUM_CLASSES]);
    expect(ys.dtype).toBe('float32');
    const rows = ys.arraySync();
    rows.forEach((row, i) => {
      expect(row.reduce((a, b) => a + b, 0)).toBe(1);
      expect(row.indexOf(1)).toBe(train.labels[i]);
    });
    tf.dispose([xs, ys]);
  });

  it('refuses more samples than a pool has', () => {
    expect(() => loadMnist(8001, 10)).toThrow(/8000 training and 2000 test/);
    expect(() => loadMnist(10, 2001)).toThrow(RangeError);
  });
});
