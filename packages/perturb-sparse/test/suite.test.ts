// Every mask × normalize mode through the shared matrix of @flatmin/test-kit: float64 reference
// (METHODS.md formulas; the masks' random inputs replayed from the same seeded generator),
// convergence, 100-step leak, zero host reads, exact 10 + save/restore + 10 = 20 round trip
// (masks, Fisher EMA, refresh step), named config errors.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { flatten, type LinearParams, type LinearProblem, linearGrad64, runOptimizerSuite } from '@flatmin/test-kit';
import { dynamicMask, fisherMask, randomMask, sparse } from '../src/index.js';
import { dynamicRefresh64, LR, ones, ReplayRandom, samStep, sparseSamEpsilon, topIndices } from './helpers.js';

const RHO = 0.1;
const SEED = 11;

/** SSAM-F in float64: F ← λF + (1−λ)g² (F₀ = g₀²), λ = 1 − 1/samples; m = top-k(F) at steps 0, K, ... */
function fisher64(p: LinearProblem, steps: number, o: { sparsity: number; updateEvery: number; samples: number }, normalize: 'masked' | 'full'): LinearParams {
  const decay = 1 - 1 / o.samples;
  let w = p.init;
  let f = null as number[] | null;
  let m: number[] = [];
  let last = -Infinity;
  for (let t = 0; t < steps; t += 1) {
    const g = flatten(linearGrad64(p, w));
    const fPrev: number[] | null = f;
    f = fPrev === null ? g.map((x) => x * x) : fPrev.map((v: number, i: number) => decay * v + (1 - decay) * g[i]! ** 2);
    const d = g.length;
    if (t - last >= o.updateEvery) {
      m = ones(topIndices(f, Math.round((1 - o.sparsity) * d)), d);
      last = t;
    }
    const mask = m;
    w = samStep(p, w, (grad) => sparseSamEpsilon(grad, mask, RHO, normalize));
  }
  return w;
}

/** SSAM-D in float64, with the uniforms the optimizer's generator (seed SEED) draws, in order. */
function dynamic64(p: LinearProblem, steps: number, o: { sparsity: number; dropRate: number; updateEvery: number; totalSteps?: number }, normalize: 'masked' | 'full'): LinearParams {
  const random = new ReplayRandom(SEED);
  let w = p.init;
  let m: number[] | null = null;
  let last = 0;
  for (let t = 0; t < steps; t += 1) {
    const g = flatten(linearGrad64(p, w));
    const d = g.length;
    const k = Math.round((1 - o.sparsity) * d);
    if (m === null) {
      m = ones(topIndices(random.uniformTensor(d), k), d);
      last = t;
    } else if (t - last >= o.updateEvery) {
      const T = o.totalSteps;
      const rate = T === undefined ? o.dropRate : (o.dropRate * (1 + Math.cos((Math.PI * Math.min(t, T)) / T))) / 2;
      const n = Math.min(Math.round(rate * k), d - k);
      if (n > 0) m = dynamicRefresh64(m, g, n, random.uniformTensor(d));
      last = t;
    }
    const mask = m;
    w = samStep(p, w, (grad) => sparseSamEpsilon(grad, mask, RHO, normalize));
  }
  return w;
}

/** ESAM's random mask in float64: W kept with probability β, then b (host uniforms in that order), ε·1/β. */
function random64(p: LinearProblem, steps: number, keep: number, normalize: 'masked' | 'full'): LinearParams {
  const random = new ReplayRandom(SEED);
  const wSize = p.d * p.k;
  let w = p.init;
  for (let t = 0; t < steps; t += 1) {
    const keepW = random.uniform() < keep ? 1 : 0;
    const keepB = random.uniform() < keep ? 1 : 0;
    const m = Array.from({ length: wSize + p.k }, (_, i) => (i < wSize ? keepW : keepB));
    w = samStep(p, w, (grad) => sparseSamEpsilon(grad, m, RHO, normalize, 1 / keep));
  }
  return w;
}

const sgd = () => tf.train.sgd(LR);
const fisherOptions = { sparsity: 0.5, updateEvery: 2, samples: 4 };
const dynamicOptions = { sparsity: 0.5, dropRate: 0.5, updateEvery: 1 };

runOptimizerSuite('sparse() through sharpnessAware', [
  {
    name: "fisherMask, normalize 'masked' (seed formula)",
    make: () => sharpnessAware({ base: sgd(), perturbation: sparse(gradient({ rho: RHO }), fisherMask(fisherOptions)) }),
    reference: { steps: 3, expected: (p) => fisher64(p, 3, fisherOptions, 'masked') },
    badConfigs: [
      { key: 'sparsity', make: () => fisherMask({ sparsity: 1 }) },
      { key: 'sparsity', make: () => fisherMask({ sparsity: -0.1 }) },
      { key: 'updateEvery', make: () => fisherMask({ updateEvery: 0 }) },
      { key: 'samples', make: () => fisherMask({ samples: 0 }) },
      { key: 'inner', make: () => sparse({ kind: 'schedule' } as never, fisherMask()) },
      { key: 'mask', make: () => sparse(gradient(), gradient() as never) },
      { key: 'normalize', make: () => sparse(gradient(), fisherMask(), { normalize: 'both' as never }) },
    ],
  },
  {
    name: "fisherMask, normalize 'full' (official code), momentum base",
    make: () => sharpnessAware({ base: tf.train.momentum(LR, 0.9), perturbation: sparse(gradient({ rho: RHO }), fisherMask(fisherOptions), { normalize: 'full' }) }),
  },
  {
    name: "fisherMask, normalize 'full': float64 reference",
    make: () => sharpnessAware({ base: sgd(), perturbation: sparse(gradient({ rho: RHO }), fisherMask(fisherOptions), { normalize: 'full' }) }),
    reference: { steps: 3, expected: (p) => fisher64(p, 3, fisherOptions, 'full') },
  },
  {
    name: "dynamicMask, normalize 'masked'",
    make: () => sharpnessAware({ base: sgd(), perturbation: sparse(gradient({ rho: RHO }), dynamicMask(dynamicOptions)), seed: SEED }),
    reference: { steps: 3, expected: (p) => dynamic64(p, 3, dynamicOptions, 'masked') },
    badConfigs: [
      { key: 'sparsity', make: () => dynamicMask({ sparsity: 1 }) },
      { key: 'dropRate', make: () => dynamicMask({ dropRate: 1.5 }) },
      { key: 'updateEvery', make: () => dynamicMask({ updateEvery: 0.5 }) },
      { key: 'totalSteps', make: () => dynamicMask({ totalSteps: 0 }) },
    ],
  },
  {
    name: "dynamicMask with totalSteps (cosine-annealed drop rate), normalize 'full'",
    make: () =>
      sharpnessAware({ base: sgd(), perturbation: sparse(gradient({ rho: RHO }), dynamicMask({ ...dynamicOptions, sparsity: 0.25, totalSteps: 4 }), { normalize: 'full' }), seed: SEED }),
    reference: { steps: 4, expected: (p) => dynamic64(p, 4, { ...dynamicOptions, sparsity: 0.25, totalSteps: 4 }, 'full') },
  },
  {
    name: "randomMask, normalize 'masked' (ESAM's norm over the kept variables)",
    make: () => sharpnessAware({ base: sgd(), perturbation: sparse(gradient({ rho: RHO }), randomMask({ keep: 0.5 })), seed: SEED }),
    reference: { steps: 3, expected: (p) => random64(p, 3, 0.5, 'masked') },
    badConfigs: [
      { key: 'keep', make: () => randomMask({ keep: 0 }) },
      { key: 'keep', make: () => randomMask({ keep: 1.01 }) },
    ],
  },
  {
    name: "randomMask, normalize 'full'",
    make: () => sharpnessAware({ base: sgd(), perturbation: sparse(gradient({ rho: RHO }), randomMask({ keep: 0.6 }), { normalize: 'full' }), seed: SEED }),
    reference: { steps: 3, expected: (p) => random64(p, 3, 0.6, 'full') },
  },
]);
