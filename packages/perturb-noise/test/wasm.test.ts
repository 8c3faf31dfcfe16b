// Smoke test on the tfjs wasm backend: every noise generator's update on a small dense model equals
// the cpu backend's to float32 tolerance (the seeded draws are the same host values on both), with
// zero host reads per step and no tensor growth. The check also fails when a generator does nothing.
import * as tf from '@tensorflow/tfjs-core';
import { mix, type Perturbation, sharpnessAware } from '@flatmin/core';
import { convStepOnWasm, expectSameOnWasm } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { filterNoise, fisherNoise, gaussian, worstOfK } from '../src/index.js';

const LR = 0.1;

describe('on wasm: the same update as on cpu, no reads, no growth', () => {
  it.each([
    ['gaussian standard', () => gaussian({ sigma: 0.05, scale: 'standard' })],
    ['gaussian matrix', () => gaussian({ sigma: 0.2, scale: 'matrix' })],
    ['gaussian element', () => gaussian({ sigma: 0.2, scale: 'element' })],
    ['gaussian filter', () => gaussian({ sigma: 0.2, scale: 'filter' })],
    ['filterNoise', () => filterNoise({ gamma: 0.2, totalSteps: 10 })],
    ['fisherNoise', () => fisherNoise({ sigma: 0.2 })],
    ['worstOfK k=3', () => worstOfK({ k: 3, sigma: 0.2 })],
  ] as [string, () => Perturbation][])('%s', async (_name, perturbation) => {
    await expectSameOnWasm(() => sharpnessAware({ base: tf.train.sgd(LR), perturbation: perturbation(), seed: 7 }), {
      plain: () => tf.train.sgd(LR),
      steps: 3,
    });
  });

  it('RWP: gaussian filter + mix (two passes)', async () => {
    await expectSameOnWasm(
      () => sharpnessAware({ base: tf.train.sgd(LR), perturbation: gaussian({ sigma: 0.2, scale: 'filter' }), combiner: mix({ lambda: 0.5 }), seed: 7 }),
      { plain: () => tf.train.sgd(LR), steps: 3 },
    );
  });
});

it('documented limit: wasm has no Conv2DBackpropFilter, so a conv2d step fails with tfjs\' clear error and leaves the weights as they were', async () => {
  const flatmin = await convStepOnWasm(() => sharpnessAware({ base: tf.train.sgd(LR), perturbation: gaussian({ sigma: 0.2, scale: 'filter' }), seed: 7 }));
  const plain = await convStepOnWasm(() => tf.train.sgd(LR));
  for (const r of [flatmin, plain]) expect(r.error?.message).toMatch(/^Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/);
  expect(flatmin.weightsUnchanged).toBe(true);
  // tfjs' own gradient tape leaves a few tensors behind on a failed kernel; flatmin adds none.
  expect(flatmin.tensorGrowth).toBeLessThanOrEqual(plain.tensorGrowth);
});
