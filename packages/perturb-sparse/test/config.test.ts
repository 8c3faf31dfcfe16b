// Inputs refused by name for every factory, the composite's config and fromConfig, and the
// delegation of state and observe to the inner perturbation.
import * as tf from '@tensorflow/tfjs-core';
import { type JsonValue, type Perturbation, type PerturbationContext, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { gradient } from '@flatmin/perturb-gradient';
import { makeLinearProblem, makeTfLinear, runFactoryInputSuite, runRefusalTable } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { dynamicMask, fisherMask, type Mask, randomMask, sparse } from '../src/index.js';
import { LR } from './helpers.js';

runFactoryInputSuite({
  name: 'fisherMask',
  factory: (o) => fisherMask(o as never),
  keys: ['sparsity', 'updateEvery', 'samples'],
  valid: { sparsity: 0.9, updateEvery: 1, samples: 1 },
  invalid: [
    ['sparsity', { sparsity: 1 }],
    ['sparsity', { sparsity: -0.01 }],
    ['sparsity', { sparsity: null }],
    ['updateEvery', { updateEvery: 0 }],
    ['updateEvery', { updateEvery: 2.5 }],
    ['samples', { samples: 0 }],
    ['samples', { samples: null }],
  ],
  kind: 'mask',
});

runFactoryInputSuite({
  name: 'dynamicMask',
  factory: (o) => dynamicMask(o as never),
  keys: ['sparsity', 'dropRate', 'updateEvery', 'totalSteps'],
  valid: { sparsity: 0, dropRate: 1, updateEvery: 1, totalSteps: 1 },
  invalid: [
    ['sparsity', { sparsity: 1 }],
    ['sparsity', { sparsity: Number.NaN }],
    ['dropRate', { dropRate: -0.1 }],
    ['dropRate', { dropRate: 1.1 }],
    ['updateEvery', { updateEvery: 0 }],
    ['totalSteps', { totalSteps: 0 }],
    ['totalSteps', { totalSteps: null }],
  ],
  kind: 'mask',
});

runFactoryInputSuite({
  name: 'randomMask',
  factory: (o) => randomMask(o as never),
  keys: ['keep'],
  valid: { keep: 1 },
  invalid: [
    ['keep', { keep: 0 }],
    ['keep', { keep: -0.5 }],
    ['keep', { keep: 1.5 }],
    ['keep', { keep: null }],
  ],
  kind: 'mask',
});

/** `sparse` as the suite calls it: options for a fixed inner and mask, or — given its own config — what fromConfig does. */
function sparseFactory(options?: unknown): unknown {
  if (options !== null && typeof options === 'object' && 'inner' in options) {
    return lookupComponent('perturbation', 'sparse')!(options as Record<string, JsonValue>);
  }
  return sparse(gradient({ rho: 0.1 }), fisherMask(), options as never);
}

runFactoryInputSuite({
  name: 'sparse',
  factory: sparseFactory,
  keys: ['normalize'],
  valid: { normalize: 'full' },
  invalid: [
    ['normalize', { normalize: 'both' }],
    ['normalize', { normalize: null }],
  ],
  kind: 'perturbation',
});

runRefusalTable('sparse(): the inner perturbation and the mask are checked', [
  { title: 'no inner', call: () => sparse(undefined as never, fisherMask()), error: 'FlatminConfigError', key: 'inner', message: /perturbation/ },
  { title: 'a schedule as inner', call: () => sparse({ kind: 'schedule', name: 'x', decide: () => ({}) } as never, fisherMask()), error: 'FlatminConfigError', key: 'inner', message: /perturbation/ },
  { title: 'a number as inner', call: () => sparse(0.1 as never, fisherMask()), error: 'FlatminConfigError', key: 'inner', message: /perturbation/ },
  { title: 'a mask as inner', call: () => sparse(fisherMask() as never, fisherMask()), error: 'FlatminConfigError', key: 'inner', message: /perturbation/ },
  { title: 'no mask', call: () => sparse(gradient(), undefined as never), error: 'FlatminConfigError', key: 'mask', message: /mask/ },
  { title: 'a perturbation as mask', call: () => sparse(gradient(), gradient() as never), error: 'FlatminConfigError', key: 'mask', message: /mask/ },
  {
    title: 'fromConfig with an unregistered inner',
    call: () => lookupComponent('perturbation', 'sparse')!({ inner: { name: 'nope', config: {} }, mask: { name: 'fisherMask', config: {} }, normalize: 'masked' }),
    error: 'FlatminConfigError',
    key: 'inner',
    message: /nope/,
  },
  {
    title: 'fromConfig with an unregistered mask',
    call: () => lookupComponent('perturbation', 'sparse')!({ inner: { name: 'gradient', config: {} }, mask: { name: 'nope', config: {} }, normalize: 'masked' }),
    error: 'FlatminConfigError',
    key: 'mask',
    message: /registered mask/,
  },
  {
    title: 'fromConfig with a malformed mask entry',
    call: () => lookupComponent('perturbation', 'sparse')!({ inner: { name: 'gradient', config: {} }, mask: 'fisherMask', normalize: 'masked' }),
    error: 'FlatminConfigError',
    key: 'mask',
    message: /name, config/,
  },
]);


/** A perturbation context for a direct `compute` call: no clean pass helpers, ‖g‖ given. */
function computeContext(variables: tf.Variable[], grads: Record<string, tf.Tensor>, rho: tf.Scalar, gradNorm: number): PerturbationContext {
  return {
    step: 0,
    random: null as never,
    normEpsilon: 1e-12,
    learningRate: 0.1,
    variables,
    grads,
    loss: null,
    objective: { perSample: null, parts: null },
    rho,
    gradNorm: () => tf.scalar(gradNorm),
    gradientOf: () => {
      throw new Error('gradientOf not expected');
    },
    evaluate: () => {
      throw new Error('unused');
    },
  };
}

describe('sparse(): config, delegation', () => {
  it('nests the inner perturbation and the mask; ρ and requires come from the inner perturbation', () => {
    const perturbation = sparse(gradient({ rho: 0.2, p: 3 }), dynamicMask({ totalSteps: 100 }), { normalize: 'full' });
    expect(perturbation.config).toEqual({
      inner: { name: 'gradient', config: { rho: 0.2, p: 3, from: 'current' } },
      mask: { name: 'dynamicMask', config: { sparsity: 0.5, dropRate: 0.5, updateEvery: 5, totalSteps: 100 } },
      normalize: 'full',
    });
    expect(perturbation.rho).toBe(0.2);
    expect(perturbation.needsGradient).toBe(true);
    expect(perturbation.observe).toBeUndefined();
    expect(sparse(gradient(), randomMask()).config['normalize']).toBe('masked');
  });

  it('getConfig → fromConfig rebuilds the composite optimizer, which trains the same', () => {
    const problem = makeLinearProblem({ seed: 4 });
    const make = () => sharpnessAware({ base: tf.train.sgd(LR), perturbation: sparse(gradient({ rho: 0.1 }), dynamicMask({ updateEvery: 2 }), { normalize: 'full' }), seed: 3 });
    const original = make();
    const rebuilt = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, JSON.parse(JSON.stringify(original.getConfig())) as never) as SharpnessAwareOptimizer;
    expect(rebuilt.getConfig()).toEqual(original.getConfig());
    const a = makeTfLinear(problem);
    const b = makeTfLinear(problem);
    for (let i = 0; i < 6; i += 1) {
      original.minimize(a.loss(), false, a.variables);
      rebuilt.minimize(b.loss(), false, b.variables);
    }
    expect(b.read()).toEqual(a.read());
    for (const x of [original, rebuilt, a, b]) x.dispose();
  });

  it("the inner perturbation's state and observe are delegated: gradient({ from: 'previous' }) inside sparse equals it alone at sparsity 0", async () => {
    const problem = makeLinearProblem({ seed: 6 });
    const alone = sharpnessAware({ base: tf.train.sgd(LR), perturbation: gradient({ rho: 0.1, from: 'previous' }) });
    const wrapped = sharpnessAware({ base: tf.train.sgd(LR), perturbation: sparse(gradient({ rho: 0.1, from: 'previous' }), fisherMask({ sparsity: 0 })) });
    const a = makeTfLinear(problem);
    const b = makeTfLinear(problem);
    for (let i = 0; i < 5; i += 1) {
      alone.minimize(a.loss(), false, a.variables);
      wrapped.minimize(b.loss(), false, b.variables);
    }
    expect(b.read()).toEqual(a.read());
    // The composite's state: the inner slots and the mask's, each under its prefix, per variable.
    const names = (await wrapped.getWeights()).map((w) => w.name).join(' ');
    for (const v of b.variables) {
      expect(names).toContain(`${v.name}:inner-previous`);
      expect(names).toContain(`${v.name}:mask-mask`);
      expect(names).toContain(`${v.name}:mask-fisher`);
    }
    expect(names).toContain('mask-refreshedAt');
    for (const x of [alone, wrapped, a, b]) x.dispose();
  });

  it("'masked' with an inner ε that vanishes with g: no second mask multiply, ‖ε‖ kept (× scale); an inner that does not vanish is masked", () => {
    const w = tf.variable(tf.tensor1d([0, 0, 0]), true, 'sparse-vanish/w');
    const grads = { [w.name]: tf.tensor1d([3, -4, 12]) };
    const rho = tf.scalar(1);
    const elementMask: Mask = {
      kind: 'mask',
      name: 'custom',
      config: {},
      needsGradient: false,
      select: () => ({ masks: { [w.name]: tf.tensor1d([1, 1, 0]) }, scale: 2 }),
    };
    const context = computeContext([w], grads, rho, 13);
    // SAM inside: ε = 2·(3, −4, 0)/5, its norm 2·ρ·5/(5 + 1e-12) known without a reduction.
    const sam = tf.tidy(() => {
      const { epsilon, epsilonNorm } = sparse(gradient(), elementMask).compute(context, {});
      return { epsilon: epsilon[w.name]!, norm: epsilonNorm ?? tf.scalar(-1) };
    });
    expect(Array.from(sam.epsilon.dataSync()).map((x) => Number(x.toFixed(6)))).toEqual([1.2, -1.6, 0]);
    expect(sam.norm.dataSync()[0]).toBeCloseTo(2, 6);
    // An inner perturbation that does not vanish with g (ε = ρ·(g + 1)) is masked on the way out, and no norm is claimed.
    const shifted: Perturbation = {
      kind: 'perturbation',
      name: 'shifted',
      config: {},
      rho: 1,
      needsGradient: true,
      compute: (c) => ({ epsilon: { [w.name]: tf.add(c.grads![w.name]!, 1) }, epsilonNorm: tf.scalar(99) }),
    };
    const other = tf.tidy(() => {
      const { epsilon, epsilonNorm } = sparse(shifted, elementMask).compute(context, {});
      expect(epsilonNorm).toBeUndefined();
      return epsilon[w.name]!;
    });
    // masked g = (3, −4, 0), + 1 = (4, −3, 1), masked (4, −3, 0), × 2.
    expect(Array.from(other.dataSync())).toEqual([8, -6, 0]);
    // The flag is what decides: the same shifted ε declared as vanishing is (wrongly) left unmasked.
    const trusted = tf.tidy(() => sparse({ ...shifted, vanishesWithGradient: true }, elementMask).compute(context, {}).epsilon[w.name]!);
    expect(Array.from(trusted.dataSync())).toEqual([8, -6, 2]);
    tf.dispose([w, rho, Object.values(grads), sam.epsilon, sam.norm, other, trusted]);
  });

  it('gradient (current), adaptive and fisher declare vanishesWithGradient; the previous-gradient variant does not', () => {
    expect(gradient().vanishesWithGradient).toBe(true);
    expect(gradient({ p: 1 }).vanishesWithGradient).toBe(true);
    expect(gradient({ from: 'previous' }).vanishesWithGradient).toBeUndefined();
  });

  it('a custom mask: false drops a variable, true keeps it, scale multiplies the kept ε', () => {
    const w = tf.variable(tf.tensor1d([0, 0]), true, 'sparse-custom/w');
    const b = tf.variable(tf.tensor1d([0]), true, 'sparse-custom/b');
    const grads = { [w.name]: tf.tensor1d([3, 0]), [b.name]: tf.tensor1d([4]) };
    const custom: Mask = { kind: 'mask', name: 'custom', config: {}, needsGradient: false, select: () => ({ masks: { [w.name]: true, [b.name]: false }, scale: 2 }) };
    const rho = tf.scalar(1);
    for (const [normalize, expected] of [['masked', [2, 0]], ['full', [1.2, 0]]] as const) {
      const perturbation: Perturbation = sparse(gradient(), custom, { normalize });
      const { epsilon } = tf.tidy(() =>
        perturbation.compute(computeContext([w, b], grads, rho, 5), {}),
      );
      expect(Object.keys(epsilon)).toEqual([w.name]);
      // masked: 2·(3, 0)/‖(3, 0)‖ = (2, 0); full: 2·(3, 0)/‖(3, 0, 4)‖ = (1.2, 0).
      const values = Array.from(epsilon[w.name]!.dataSync());
      expect(values[0]).toBeCloseTo(expected[0], 6);
      expect(values[1]).toBe(0);
      tf.dispose(epsilon);
    }
    tf.dispose([w, b, rho, Object.values(grads)]);
  });
});
