// Smoke test on the tfjs wasm backend: ASAM (both granularities) and Fisher SAM give the same update
// on a small dense model as on the cpu backend, to float32 tolerance, with zero host reads per step
// and no tensor growth. The check also fails when a generator does nothing.
import * as tf from '@tensorflow/tfjs-core';
import { type Perturbation, sharpnessAware } from '@flatmin/core';
import { convStepOnWasm, expectSameOnWasm } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { adaptive, fisher } from '../src/index.js';

const LR = 0.1;

describe('on wasm: the same update as on cpu, no reads, no growth', () => {
  it.each([
    ['adaptive element', () => adaptive({ rho: 0.5, granularity: 'element' })],
    ['adaptive filter', () => adaptive({ rho: 0.5, granularity: 'filter' })],
    ['fisher', () => fisher({ rho: 0.2, eta: 1 })],
  ] as [string, () => Perturbation][])('%s', async (_name, perturbation) => {
    await expectSameOnWasm(() => sharpnessAware({ base: tf.train.sgd(LR), perturbation: perturbation(), seed: 7 }), {
      plain: () => tf.train.sgd(LR),
      steps: 3,
    });
  });
});

it('documented limit: wasm has no Conv2DBackpropFilter, so a conv2d step fails with tfjs\' clear error and leaves the weights as they were', async () => {
  const flatmin = await convStepOnWasm(() => sharpnessAware({ base: tf.train.sgd(LR), perturbation: adaptive({ granularity: 'filter' }), seed: 7 }));
  const plain = await convStepOnWasm(() => tf.train.sgd(LR));
  for (const r of [flatmin, plain]) expect(r.error?.message).toMatch(/^Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/);
  expect(flatmin.weightsUnchanged).toBe(true);
  // tfjs' own gradient tape leaves a few tensors behind on a failed kernel; flatmin adds none.
  expect(flatmin.tensorGrowth).toBeLessThanOrEqual(plain.tensorGrowth);
});
