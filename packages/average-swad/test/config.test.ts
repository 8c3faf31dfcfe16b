// swad's options: defaults, ranges (FlatminConfigError naming the key), the factory input table,
// getConfig/fromConfig through the registry, and runOptimizerSuite with SWAD attached.
import * as tf from '@tensorflow/tfjs-core';
import { SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { gradient } from '@flatmin/perturb-gradient';
import { expectConfigError, linearGrad64, runFactoryInputSuite, runOptimizerSuite, axpy, type LinearProblem } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { swad } from '../src/index.js';

runFactoryInputSuite({
  name: 'swad',
  factory: swad as (options?: unknown) => unknown,
  kind: 'averager',
  keys: ['nConverge', 'nTolerance', 'toleranceRatio', 'evaluateEvery'],
  valid: { nConverge: 2, nTolerance: 4, toleranceRatio: 0.1, evaluateEvery: 10 },
  invalid: [
    ['nConverge', { nConverge: 0 }],
    ['nConverge', { nConverge: 1.5 }],
    ['nConverge', { nConverge: null }],
    ['nTolerance', { nTolerance: 0 }],
    ['nTolerance', { nTolerance: 'six' }],
    ['toleranceRatio', { toleranceRatio: -0.1 }],
    ['toleranceRatio', { toleranceRatio: null }],
    ['toleranceRatio', { toleranceRatio: Number.NaN }],
    ['evaluateEvery', { evaluateEvery: 0 }],
    ['evaluateEvery', { evaluateEvery: 2.5 }],
    ['evaluateEvery', { evaluateEvery: null }],
  ],
});

describe('swad config', () => {
  it('defaults: nConverge 3, nTolerance 6, toleranceRatio 0.3, epoch-end evaluations', () => {
    expect(swad().config).toEqual({ nConverge: 3, nTolerance: 6, toleranceRatio: 0.3 });
    expect(swad({ evaluateEvery: 5 }).config).toEqual({ nConverge: 3, nTolerance: 6, toleranceRatio: 0.3, evaluateEvery: 5 });
  });

  it.each([
    ['nConverge', { nConverge: 0 }],
    ['nTolerance', { nTolerance: 0 }],
    ['toleranceRatio', { toleranceRatio: -1 }],
    ['evaluateEvery', { evaluateEvery: 0 }],
  ] as const)('refuses %s below its range', (key, options) => expectConfigError(() => swad(options), key));

  it('is registered: getConfig/fromConfig rebuilds the optimizer with the same averager config', () => {
    expect(lookupComponent('averager', 'swad')).toBeTypeOf('function');
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), averager: swad({ nConverge: 2, evaluateEvery: 4 }) });
    const rebuilt = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, optimizer.getConfig()) as SharpnessAwareOptimizer;
    expect(rebuilt.averager!.component.name).toBe('swad');
    expect(rebuilt.averager!.component.config).toEqual({ nConverge: 2, nTolerance: 6, toleranceRatio: 0.3, evaluateEvery: 4 });
    optimizer.dispose();
    rebuilt.dispose();
  });

  it('observeValidation refuses a non-number', () => {
    expect(() => swad().observeValidation('1' as unknown as number)).toThrow(/number/);
  });
});

// SWAD does not change training: with ρ = 0 the step is plain SGD, checked against float64 GD.
const lr = 0.05;
runOptimizerSuite('sharpnessAware with swad attached', [
  {
    name: 'sgd, rho 0, swad()',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho: 0 }), averager: swad(), seed: 1 }),
    reference: {
      steps: 3,
      expected: (p: LinearProblem) => {
        let params = p.init;
        for (let i = 0; i < 3; i += 1) params = axpy(-lr, linearGrad64(p, params), params);
        return params;
      },
    },
    badConfigs: [
      { make: () => swad({ nConverge: 0 }), key: 'nConverge' },
      { make: () => swad({ nTolerance: 0 }), key: 'nTolerance' },
      { make: () => swad({ toleranceRatio: -0.5 }), key: 'toleranceRatio' },
      { make: () => swad({ evaluateEvery: 0 }), key: 'evaluateEvery' },
    ],
  },
]);
