// getConfig → fromConfig rebuilds each generator through the component registry (what
// model.save(..., { includeOptimizer: true }) + tf.loadLayersModel do), and the rebuilt optimizer
// continues with the same noise.
import * as tf from '@tensorflow/tfjs-core';
import { mix, type Perturbation, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { makeLinearProblem, makeTfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { filterNoise, fisherNoise, gaussian, worstOfK } from '../src/index.js';

const CASES: [string, () => Perturbation][] = [
  ['gaussian', () => gaussian({ sigma: 0.03, scale: 'matrix' })],
  ['filterNoise', () => filterNoise({ gamma: 0.01, increase: 3, totalSteps: 50 })],
  ['filterNoise perInput', () => filterNoise({ gamma: 0.05, perInput: true })],
  ['fisherNoise', () => fisherNoise({ sigma: 0.02, eta: 2, decay: 0.5 })],
  ['worstOfK', () => worstOfK({ k: 3, sigma: 0.02, scale: 'element' })],
];

describe.each(CASES)('%s: getConfig → fromConfig', (_name, make) => {
  it('rebuilds the same perturbation, which takes the same steps after setWeights', async () => {
    const problem = makeLinearProblem({ seed: 2 });
    const a = makeTfLinear(problem);
    const original = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: make(), combiner: mix({ lambda: 0.7 }), seed: 5 });
    for (let i = 0; i < 3; i += 1) original.minimize(a.loss(), false, a.variables);
    const config = JSON.parse(JSON.stringify(original.getConfig()));
    const rebuilt = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, config) as SharpnessAwareOptimizer;
    expect(rebuilt.perturbation.name).toBe(original.perturbation.name);
    expect(rebuilt.perturbation.config).toEqual(original.perturbation.config);
    expect(rebuilt.getConfig()).toEqual(config);
    const b = makeTfLinear(problem, { params: a.read() });
    const saved = await original.getWeights();
    await rebuilt.setWeights(saved.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) })));
    for (let i = 0; i < 3; i += 1) {
      original.minimize(a.loss(), false, a.variables);
      rebuilt.minimize(b.loss(), false, b.variables);
    }
    expect(b.read()).toEqual(a.read());
    for (const d of [original, rebuilt, a, b]) d.dispose();
  });
});
