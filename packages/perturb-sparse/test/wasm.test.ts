// Smoke test on the tfjs wasm backend: sparse() with every mask (and ESAM's data selection) gives
// the same updates over four steps of a small dense model as on the cpu backend, to float32
// tolerance — through two mask refreshes (updateEvery 2), so the device-side top-k threshold and the
// drop/grow scatter run on wasm — with zero host reads per step and no tensor growth. The check also
// fails when a generator does nothing.
import * as tf from '@tensorflow/tfjs-core';
import { type Perturbation, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { convStepOnWasm, expectSameOnWasm } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { dataSelection, dynamicMask, fisherMask, randomMask, sparse } from '../src/index.js';

const LR = 0.1;
const inner = () => gradient({ rho: 0.2 });

describe('on wasm: the same updates as on cpu, no reads, no growth', () => {
  it.each([
    ['fisherMask (squared-gradient EMA)', () => sparse(inner(), fisherMask({ sparsity: 0.5, updateEvery: 2 })), false],
    ['fisherMask (per-sample empirical Fisher)', () => sparse(inner(), fisherMask({ sparsity: 0.5, updateEvery: 2, samples: 4 })), true],
    ['dynamicMask', () => sparse(inner(), dynamicMask({ sparsity: 0.5, dropRate: 0.5, updateEvery: 2 }), { normalize: 'full' }), false],
    ['randomMask', () => sparse(inner(), randomMask({ keep: 0.5 })), false],
    ['dataSelection', () => dataSelection(inner(), { gamma: 0.5 }), true],
  ] as [string, () => Perturbation, boolean][])('%s', async (_name, perturbation, perSample) => {
    await expectSameOnWasm(() => sharpnessAware({ base: tf.train.sgd(LR), perturbation: perturbation(), seed: 7 }), {
      plain: () => tf.train.sgd(LR),
      steps: 4,
      perSample,
    });
  });
});

it('documented limit: wasm has no Conv2DBackpropFilter, so a conv2d step fails with tfjs\' clear error and leaves the weights as they were', async () => {
  const flatmin = await convStepOnWasm(() => sharpnessAware({ base: tf.train.sgd(LR), perturbation: sparse(inner(), fisherMask()), seed: 7 }));
  const plain = await convStepOnWasm(() => tf.train.sgd(LR));
  for (const r of [flatmin, plain]) expect(r.error?.message).toMatch(/^Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/);
  expect(flatmin.weightsUnchanged).toBe(true);
  // tfjs' own gradient tape leaves a few tensors behind on a failed kernel; flatmin adds none.
  expect(flatmin.tensorGrowth).toBeLessThanOrEqual(plain.tensorGrowth);
});
