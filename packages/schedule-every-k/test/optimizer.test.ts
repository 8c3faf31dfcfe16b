// everyK through sharpnessAware: the common matrix of @flatmin/test-kit (float64 reference over
// five steps — sharp and reusing steps, g_v replaced —, convergence, 100-step leak, zero host
// reads, exact getWeights/setWeights round trip (k = 3: the restore lands between sharp steps, so
// g_v must come back), named config errors).
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { makeLinearProblem, maxRelativeError, runOptimizerSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { everyK } from '../src/index.js';
import { lookSam64, sam64 } from './reference.js';

const lr = 0.05;
const rho = 0.3;
const make = (schedule: ReturnType<typeof everyK>, base: () => tf.Optimizer = () => tf.train.sgd(lr)) => () =>
  sharpnessAware({ base: base(), perturbation: gradient({ rho }), schedule });

runOptimizerSuite('everyK() through sharpnessAware', [
  {
    name: "k 2, α 0.7, 'global'",
    make: make(everyK({ k: 2, alpha: 0.7 })),
    reference: { steps: 5, expected: (p) => lookSam64(p, 5, { k: 2, alpha: 0.7, granularity: 'global', rho, lr }) },
    badConfigs: [
      { key: 'k', make: () => everyK({ k: 0 }) },
      { key: 'k', make: () => everyK({ k: 2.5 }) },
      { key: 'alpha', make: () => everyK({ alpha: -0.1 }) },
      { key: 'granularity', make: () => everyK({ granularity: 'layer' as never }) },
    ],
  },
  {
    name: "k 2, α 0.7, 'tensor'",
    make: make(everyK({ k: 2, alpha: 0.7, granularity: 'tensor' })),
    reference: { steps: 5, expected: (p) => lookSam64(p, 5, { k: 2, alpha: 0.7, granularity: 'tensor', rho, lr }) },
  },
  {
    name: 'defaults (k 5, α 0.7, global): one sharp and four reusing steps',
    make: make(everyK()),
    reference: { steps: 5, expected: (p) => lookSam64(p, 5, { k: 5, alpha: 0.7, granularity: 'global', rho, lr }) },
  },
  {
    name: "k 3, α 1.5, 'global' (the round trip restores between sharp steps)",
    make: make(everyK({ k: 3, alpha: 1.5 })),
    reference: { steps: 5, expected: (p) => lookSam64(p, 5, { k: 3, alpha: 1.5, granularity: 'global', rho, lr }) },
  },
  {
    // The public ports' variant: per tensor, the counter restarting every 4 steps (an epoch of 4
    // batches), so t = 4 is sharp again (t = 0, 3, 4 in five steps; without the restart 0 and 3).
    name: "k 3, α 0.7, 'tensor', restartEvery 4 (the ports' per-epoch counter)",
    make: make(everyK({ k: 3, alpha: 0.7, granularity: 'tensor', restartEvery: 4 })),
    reference: { steps: 5, expected: (p) => lookSam64(p, 5, { k: 3, alpha: 0.7, granularity: 'tensor', rho, lr, restartEvery: 4 }) },
    badConfigs: [
      { key: 'restartEvery', make: () => everyK({ restartEvery: 0 }) },
      { key: 'restartEvery', make: () => everyK({ restartEvery: 1.5 }) },
    ],
  },
  {
    name: "k 3, α 0.7, 'tensor' on momentum",
    make: make(everyK({ k: 3, alpha: 0.7, granularity: 'tensor' }), () => tf.train.momentum(lr, 0.9)),
  },
  {
    name: 'α 0: plain every-k SAM',
    make: make(everyK({ k: 2, alpha: 0 })),
    reference: { steps: 5, expected: (p) => lookSam64(p, 5, { k: 2, alpha: 0, granularity: 'global', rho, lr }) },
  },
  {
    name: 'k 1: SAM',
    make: make(everyK({ k: 1 })),
    reference: { steps: 3, expected: (p) => sam64(p, 3, { rho, lr }) },
  },
]);

describe('the references discriminate', () => {
  // The 1e-5 checks above only mean something if these trajectories are further apart than that.
  const problem = makeLinearProblem({ seed: 7 });
  it("after five steps global, tensor, α = 0 and SAM are at least 1e-4 apart", () => {
    const runs = [
      lookSam64(problem, 5, { k: 2, alpha: 0.7, granularity: 'global', rho, lr }),
      lookSam64(problem, 5, { k: 2, alpha: 0.7, granularity: 'tensor', rho, lr }),
      lookSam64(problem, 5, { k: 2, alpha: 0, granularity: 'global', rho, lr }),
      sam64(problem, 5, { rho, lr }),
    ];
    for (let i = 0; i < runs.length; i += 1) {
      for (let j = i + 1; j < runs.length; j += 1) expect(maxRelativeError(runs[i]!, runs[j]!)).toBeGreaterThan(1e-4);
    }
  });

  it('the restart matters: k 3 restarting every 4 steps is at least 1e-4 from k 3 without a restart after five steps', () => {
    const restarted = lookSam64(problem, 5, { k: 3, alpha: 0.7, granularity: 'tensor', rho, lr, restartEvery: 4 });
    const plain = lookSam64(problem, 5, { k: 3, alpha: 0.7, granularity: 'tensor', rho, lr });
    expect(maxRelativeError(restarted, plain)).toBeGreaterThan(1e-4);
  });

  it('the reused steps matter: the defaults after five steps differ from after one by more than the tolerance', () => {
    const five = lookSam64(problem, 5, { k: 5, alpha: 0.7, granularity: 'global', rho, lr });
    const plainAfterSharp = lookSam64(problem, 5, { k: 5, alpha: 0, granularity: 'global', rho, lr });
    expect(maxRelativeError(five, plainAfterSharp)).toBeGreaterThan(1e-4);
  });
});
