// The common matrix (float64 reference, convergence, 100-step leak, zero host reads,
// getWeights/setWeights round trip, named config errors) for core's configurations.
import * as tf from '@tensorflow/tfjs-core';
import { axpy, runOptimizerSuite, scale64 } from '@flatmin/test-kit';
import { mix, sharpnessAware, surrogateGap } from '../src/index.js';
import { meanAverager, noisePerturbation, samPerturbation } from './helpers.js';
import { finalGradient64, momentumSteps64, sgdSteps64 } from './reference.js';

const lr = 0.05;
const rho = 0.05;

runOptimizerSuite('@flatmin/core step', [
  {
    name: 'SAM step (adversarial combiner) on SGD',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), seed: 1 }),
    reference: { steps: 3, expected: (p) => sgdSteps64(p, 3, { rho, lr }) },
    badConfigs: [
      { key: 'base', make: () => sharpnessAware({ base: {} as tf.Optimizer, perturbation: samPerturbation() }) },
      { key: 'perturbation', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: undefined as never }) },
      { key: 'weightDecay', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), weightDecay: -1 }) },
      { key: 'seed', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), seed: 1.5 }) },
      { key: 'scope', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), scope: 'some' as never }) },
      { key: 'onNonFinite', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), onNonFinite: 'zero' as never }) },
      { key: 'accumulate.steps', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), accumulate: 0 }) },
      { key: 'accumulate.adversarial', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), accumulate: { steps: 2, adversarial: 'first' as never } }) },
      { key: 'telemetry', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), telemetry: 'yes' as never }) },
      { key: 'rh0', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), rh0: 1 } as never) },
    ],
  },
  {
    name: 'SAM step with decoupledWeightDecay (SGDW) on SGD',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), decoupledWeightDecay: 0.1, seed: 1 }),
    // w ← w(1 − ηλ) − η g_adv(w), with g_adv taken at the weights before the decay.
    reference: {
      steps: 3,
      expected: (p) => {
        let w = p.init;
        for (let i = 0; i < 3; i += 1) w = axpy(-lr, finalGradient64(p, w, { rho, lr }), scale64(1 - lr * 0.1, w));
        return w;
      },
    },
    badConfigs: [
      { key: 'decoupledWeightDecay', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), decoupledWeightDecay: -0.1 }) },
      { key: 'sharpOn', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), sharpOn: [] }) },
    ],
  },
  {
    name: 'SAM step on momentum',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: samPerturbation(rho), seed: 1 }),
    reference: { steps: 3, expected: (p) => momentumSteps64(p, 3, 0.9, { rho, lr }) },
  },
  {
    name: 'mix({ lambda: 0.3 }) (RWP combiner)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), combiner: mix({ lambda: 0.3 }), seed: 1 }),
    reference: { steps: 2, expected: (p) => sgdSteps64(p, 2, { rho, lr, combine: { kind: 'mix', lambda: 0.3 } }) },
    badConfigs: [
      { key: 'lambda', make: () => mix({ lambda: 1.5 }) },
      { key: 'lambda', make: () => mix({ lambda: Number.NaN }) },
      { key: 'combiner', make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(), combiner: samPerturbation() as never }) },
    ],
  },
  {
    name: 'surrogateGap({ alpha: 0.4 }) (GSAM combiner)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.2), combiner: surrogateGap({ alpha: 0.4 }), seed: 1 }),
    reference: { steps: 2, expected: (p) => sgdSteps64(p, 2, { rho: 0.2, lr, combine: { kind: 'gsam', alpha: 0.4 } }) },
    badConfigs: [{ key: 'alpha', make: () => surrogateGap({ alpha: -0.1 }) }],
  },
  {
    name: 'weightDecay 0.01 (added to the base gradient only)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), weightDecay: 0.01, seed: 1 }),
    reference: { steps: 2, expected: (p) => sgdSteps64(p, 2, { rho, lr, weightDecay: 0.01 }) },
  },
  {
    name: 'seeded noise perturbation (no clean pass) on Adam',
    make: () => sharpnessAware({ base: tf.train.adam(0.05), perturbation: noisePerturbation(0.05), seed: 5 }),
  },
  {
    name: 'gradient accumulation over 2 calls',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), accumulate: 2, seed: 1 }),
    roundTripSteps: 21,
  },
  {
    name: 'with a weight averager attached',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), averager: meanAverager(), seed: 1 }),
  },
]);
