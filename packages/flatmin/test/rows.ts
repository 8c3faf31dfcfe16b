// The table every test file runs: each preset next to the same composition written by hand from
// the parts with the paper's defaults spelled out, on the test kit's linear problem.
import * as tf from '@tensorflow/tfjs-core';
import { classSplit, mix, type Objective, type SharpnessAwareOptimizer, sharpnessAware, surrogateGap } from '@flatmin/core';
import { ema as emaAverager } from '@flatmin/average-ema';
import { swa as swaAverager } from '@flatmin/average-swa';
import { swad as swadAverager } from '@flatmin/average-swad';
import { adaptive, fisher } from '@flatmin/perturb-adaptive';
import { flatLoraNoise, mergedScope } from '@flatmin/lora';
import { friendly, varianceSuppressed } from '@flatmin/perturb-friendly';
import { gradient } from '@flatmin/perturb-gradient';
import { filterNoise, fisherNoise, gaussian } from '@flatmin/perturb-noise';
import { dataSelection, dynamicMask, fisherMask, randomMask, sparse } from '@flatmin/perturb-sparse';
import { adaptivePolicy } from '@flatmin/schedule-adaptive';
import { everyK } from '@flatmin/schedule-every-k';
import { randomly } from '@flatmin/schedule-random';
import { learnedRho, proportionalToLearningRate, rhoSchedule } from '@flatmin/schedule-rho';
import { makeLinearProblem, type TfLinear } from '@flatmin/test-kit';
import * as presets from '../src/index.js';

export const problem = makeLinearProblem({ seed: 7 });

/** Per-example losses of the linear problem: Σ_k (xW + b − y)² for each row. */
export function perSampleLoss(model: TfLinear): tf.Tensor1D {
  const x = tf.tensor2d(problem.x);
  const y = tf.tensor2d(problem.y);
  return tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, model.w), model.b), y)), 1) as tf.Tensor1D;
}

/** ImbSAM's objective: rows labelled 1 (three of eight) are the tail class. */
export const LABELS = [0, 1, 0, 1, 0, 0, 0, 1];
const splitObjective = (model: TfLinear): Objective => () => classSplit(perSampleLoss(model), tf.tensor1d(LABELS, 'int32'), { tail: [1] });
const perSampleObjective = (model: TfLinear): Objective => () => {
  const perSample = perSampleLoss(model);
  return { loss: tf.mean(perSample) as tf.Scalar, perSample };
};

/** The base optimizer of every row (momentum, so that the base's slots are part of every round trip). */
export const base = () => tf.train.momentum(0.05, 0.9);

export interface Row {
  name: keyof typeof presets.presets;
  preset: (model: TfLinear) => SharpnessAwareOptimizer;
  hand: (model: TfLinear) => SharpnessAwareOptimizer;
  /** The loss closure of a custom loop when a plain `() => loss` is not enough. */
  objective?: (model: TfLinear) => Objective;
  /** Host reads allowed per step (AE-SAM decides on the host). */
  readsPerStep?: number;
  /** An averager preset: its steps are plain base steps, compare the averaged weights too. */
  averaged?: boolean;
}

const seed = 3;

export const rows: Row[] = [
  { name: 'sam', preset: () => presets.sam({ base: base() }), hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0.05, p: 2 }) }) },
  {
    name: 'asam',
    preset: () => presets.asam({ base: base() }),
    hand: () => sharpnessAware({ base: base(), perturbation: adaptive({ rho: 0.5, eta: 0.01, granularity: 'element', adaptWhere: 'rank>=2' }) }),
  },
  { name: 'fisherSam', preset: () => presets.fisherSam({ base: base() }), hand: () => sharpnessAware({ base: base(), perturbation: fisher({ rho: 0.1, eta: 1 }) }) },
  {
    name: 'fsam',
    preset: () => presets.fsam({ base: base() }),
    hand: () => sharpnessAware({ base: base(), perturbation: friendly({ rho: 0.05, sigma: 1, lambda: 0.9, variant: 'seed' }) }),
  },
  { name: 'vasso', preset: () => presets.vasso({ base: base() }), hand: () => sharpnessAware({ base: base(), perturbation: varianceSuppressed({ rho: 0.05, theta: 0.9 }) }) },
  {
    name: 'ssamF',
    preset: () => presets.ssamF({ base: base(), updateEvery: 2 }),
    hand: () =>
      sharpnessAware({ base: base(), perturbation: sparse(gradient({ rho: 0.05 }), fisherMask({ sparsity: 0.5, updateEvery: 2, samples: 16 }), { normalize: 'masked' }) }),
  },
  {
    name: 'ssamD',
    preset: () => presets.ssamD({ base: base(), updateEvery: 2, totalSteps: 10, seed }),
    hand: () =>
      sharpnessAware({
        base: base(),
        perturbation: sparse(gradient({ rho: 0.05 }), dynamicMask({ sparsity: 0.5, dropRate: 0.5, updateEvery: 2, totalSteps: 10 }), { normalize: 'masked' }),
        seed,
      }),
  },
  {
    name: 'esam',
    preset: () => presets.esam({ base: base(), seed }),
    hand: () => sharpnessAware({ base: base(), perturbation: dataSelection(sparse(gradient({ rho: 0.05 }), randomMask({ keep: 0.5 })), { gamma: 0.5 }), seed }),
    objective: perSampleObjective,
  },
  {
    name: 'gsam',
    preset: () => presets.gsam({ base: base() }),
    hand: () =>
      sharpnessAware({
        base: base(),
        perturbation: gradient(),
        combiner: surrogateGap({ alpha: 0.4 }),
        schedule: rhoSchedule(proportionalToLearningRate({ rhoMin: 0, rhoMax: 0.05, lrMin: 0, lrMax: 0.05 })),
      }),
  },
  {
    name: 'rwp',
    preset: () => presets.rwp({ base: base(), seed }),
    hand: () => sharpnessAware({ base: base(), perturbation: gaussian({ sigma: 0.01, scale: 'filter' }), combiner: mix({ lambda: 0.5 }), seed }),
  },
  {
    name: 'lpfSgd',
    preset: () => presets.lpfSgd({ base: base(), totalSteps: 10, seed }),
    hand: () => sharpnessAware({ base: base(), perturbation: filterNoise({ gamma: 0.002, increase: 7, samples: 1, totalSteps: 10 }), seed }),
  },
  {
    name: 'flatLora',
    preset: () => presets.flatLora({ base: base(), totalSteps: 10, seed }),
    hand: () => sharpnessAware({ base: base(), perturbation: flatLoraNoise({ sigma: 0.05, totalSteps: 10 }), scope: mergedScope(), seed }),
  },
  {
    name: 'marwp',
    preset: () => presets.marwp({ base: base(), seed }),
    hand: () => sharpnessAware({ base: base(), perturbation: fisherNoise({ sigma: 0.01, eta: 1, decay: 0.9 }), combiner: mix({ lambda: 0.5 }), seed }),
  },
  {
    name: 'lookSam',
    preset: () => presets.lookSam({ base: base(), k: 2 }),
    hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0.05 }), schedule: everyK({ k: 2, alpha: 0.7, granularity: 'global' }) }),
  },
  {
    name: 'rst',
    preset: () => presets.rst({ base: base(), seed }),
    hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0.05 }), schedule: randomly({ p: 0.5 }), seed }),
  },
  {
    name: 'aeSam',
    preset: () => presets.aeSam({ base: base(), totalSteps: 10 }),
    hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0.05 }), schedule: adaptivePolicy({ delta: 0.9, lambda1: -1, lambda2: 1, totalSteps: 10 }) }),
    readsPerStep: 1,
  },
  {
    name: 'lets',
    preset: (model) => presets.lets({ base: base(), validation: model.loss([0, 1, 2]) }),
    hand: (model) => sharpnessAware({ base: base(), perturbation: gradient(), schedule: learnedRho({ rho0: 0.05, lr: 0.01, every: 1, validation: model.loss([0, 1, 2]) }) }),
  },
  {
    name: 'imbSam',
    preset: () => presets.imbSam({ base: base() }),
    hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0.05 }), sharpOn: 'tail' }),
    objective: splitObjective,
  },
  {
    name: 'swa',
    preset: () => presets.swa({ base: base() }),
    hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0 }), schedule: randomly({ p: 0 }), averager: swaAverager({ start: 0, every: 1 }) }),
    averaged: true,
  },
  {
    name: 'swad',
    preset: () => presets.swad({ base: base() }),
    hand: () =>
      sharpnessAware({ base: base(), perturbation: gradient({ rho: 0 }), schedule: randomly({ p: 0 }), averager: swadAverager({ nConverge: 3, nTolerance: 6, toleranceRatio: 0.3 }) }),
    averaged: true,
  },
  {
    name: 'ema',
    preset: () => presets.ema({ base: base() }),
    hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0 }), schedule: randomly({ p: 0 }), averager: emaAverager({ decay: 0.999, warmup: true }) }),
    averaged: true,
  },
  {
    name: 'ogSam',
    preset: () => presets.ogSam({ base: base() }),
    hand: () => sharpnessAware({ base: base(), perturbation: gradient({ rho: 0.05, p: 2, from: 'previous' }) }),
  },
];
// MESA needs a tfjs-layers model for its teacher: it is in fit.test.ts.
