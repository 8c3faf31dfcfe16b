// Every schedule of the package through the common matrix of @flatmin/test-kit: float64 reference
// over three steps, convergence, no tensor growth over 100 steps, zero device→host reads per step,
// the exact getWeights/setWeights round trip (10 + save/restore + 10 = 20 steps), named config errors.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { axpy, linearGrad64, makeLinearProblem, runOptimizerSuite, scale64 } from '@flatmin/test-kit';
import { cosineIncrease, inverseSqrt, learnedRho, proportionalToLearningRate, rhoSchedule } from '../src/index.js';
import { alternating, validationOf } from './helpers.js';
import { ALL_ROWS, lets64, samRun64, samStep64 } from './reference.js';

const lr = 0.05;
const problem = makeLinearProblem({ seed: 7 }); // the suite's problem
const ramp = (t: number) => 0.05 * (1 + (4 - 1) * (1 - Math.cos((Math.PI * Math.min(t, 2)) / 2)) / 2);

runOptimizerSuite('rhoSchedule() and learnedRho() through sharpnessAware', [
  {
    name: 'rhoSchedule(inverseSqrt)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.3 })) }),
    reference: { steps: 3, expected: (p) => samRun64(p, [0.3, 0.3 / Math.SQRT2, 0.3 / Math.sqrt(3)], lr) },
    badConfigs: [
      { key: 'rho', make: () => inverseSqrt({ rho: -0.1 }) },
      { key: 'offset', make: () => inverseSqrt({ offset: 0 }) },
      { key: 'rho', make: () => rhoSchedule(0.1 as never) },
    ],
  },
  {
    name: 'rhoSchedule(cosineIncrease)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient(), schedule: rhoSchedule(cosineIncrease({ rho: 0.05, increase: 4, totalSteps: 2 })) }),
    reference: { steps: 3, expected: (p) => samRun64(p, [ramp(0), ramp(1), ramp(2)], lr) },
    badConfigs: [
      { key: 'increase', make: () => cosineIncrease({ increase: 0.9, totalSteps: 10 }) },
      { key: 'totalSteps', make: () => cosineIncrease({ totalSteps: 0 }) },
    ],
  },
  {
    name: 'rhoSchedule(proportionalToLearningRate) at a fixed learning rate',
    make: () =>
      sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient(), schedule: rhoSchedule(proportionalToLearningRate({ rhoMin: 0.1, rhoMax: 0.5, lrMin: 0.01, lrMax: 0.11 })) }),
    reference: { steps: 3, expected: (p) => samRun64(p, [0.26, 0.26, 0.26], lr) }, // 0.1 + 0.4·(0.05 − 0.01)/0.1
    badConfigs: [
      { key: 'rhoMax', make: () => proportionalToLearningRate({ rhoMin: 0.2, rhoMax: 0.1, lrMax: 1 }) },
      { key: 'lrMax', make: () => proportionalToLearningRate({ lrMin: 0.5, lrMax: 0.5 }) },
      { key: 'rhoMin', make: () => proportionalToLearningRate({ rhoMin: -1, lrMax: 1 }) },
    ],
  },
  {
    name: 'rhoSchedule(inverseSqrt, a stateful alternating inner schedule)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.3 }), alternating({ scale: 0.5 })) }),
    reference: {
      steps: 3,
      expected: (p) => {
        const w1 = samStep64(p, p.init, 0.3, lr);
        const w2 = axpy(-lr, scale64(0.5, linearGrad64(p, w1)), w1);
        return samStep64(p, w2, 0.3 / Math.sqrt(3), lr);
      },
    },
  },
  {
    name: 'learnedRho (LETS)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient(), schedule: learnedRho({ rho0: 0.3, lr: 0.5, validation: validationOf(problem) }) }),
    reference: { steps: 3, expected: (p) => lets64(p, 3, { rho0: 0.3, lr: 0.5, every: 1, eta: lr, trainRows: ALL_ROWS }).params },
    badConfigs: [
      { key: 'every', make: () => learnedRho({ every: 0, validation: () => tf.scalar(0) }) },
      { key: 'validation', make: () => learnedRho({ validation: 'val' as never }) },
      { key: 'rho0', make: () => learnedRho({ rho0: -1, validation: () => tf.scalar(0) }) },
    ],
  },
  {
    // every = 4 divides the 100 steps of the leak check: the direction buffer is held only on the
    // step before each update of ρ, so memory is periodic in the step, the same after 100 steps.
    name: 'learnedRho every 4 steps, on momentum',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: gradient(), schedule: learnedRho({ rho0: 0.1, lr: 0.2, every: 4, validation: validationOf(problem) }) }),
  },
]);
