// worstOfK(): ε = the δ_j of the largest L(w + δ_j), chosen on the device — against a mock
// evaluate (the worst planted at each position, ties) and a float64 random-search reference; k = 1
// and σ = 0; k + 1 loss evaluations per step; and the shared suites.
import * as tf from '@tensorflow/tfjs-core';
import { type NamedTensors, sharpnessAware } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { type LinearParams, type LinearProblem, makeLinearProblem, makeTfLinear, runFactoryInputSuite, runOptimizerSuite } from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { gaussian, type WorstOfKOptions, worstOfK } from '../src/index.js';
import {
  contextOf,
  countBackendReads,
  draws,
  linearEpsilon,
  linearShapes,
  linearValues,
  lossAt64,
  type Scale,
  scale64,
  sgdAt64,
  testValues,
  variableOf,
} from './helpers.js';

const SHAPES = [[4, 3], [5], []] as const;
const lr = 0.05;

const created: tf.Tensor[] = [];
afterEach(() => {
  tf.dispose(created.splice(0));
});

function setup() {
  const values = SHAPES.map((shape, i) => testValues(shape.reduce((a: number, b: number) => a * b, 1), 61 + i));
  const vars = SHAPES.map((shape, i) => variableOf(values[i]!, shape));
  created.push(...vars);
  return { vars, values };
}

/** ε from worstOfK with an `evaluate` that returns `losses[j]` for the j-th call (as device scalars). */
function pick(options: WorstOfKOptions, vars: tf.Variable[], losses: number[], seed: number) {
  const rho = tf.scalar(options.sigma ?? 0.01);
  created.push(rho);
  const offsetsSeen: number[][][] = [];
  const evaluate = (offsets: NamedTensors): tf.Scalar => {
    offsetsSeen.push(vars.map((v) => Array.from(offsets[v.name]!.dataSync())));
    return tf.keep(tf.scalar(losses[offsetsSeen.length - 1]!));
  };
  const epsilon = tf.tidy(() => worstOfK(options).compute(contextOf(vars, { seed, rho, evaluate }), {}).epsilon);
  const out = vars.map((v) => Array.from(epsilon[v.name]!.dataSync()));
  tf.dispose(epsilon);
  return { epsilon: out, calls: offsetsSeen.length, offsetsSeen };
}

/** The k candidates δ_j the optimizer's generator gives for `seed`, with scale S (float64). */
function candidates(values: number[][], seed: number, k: number, sigma: number, scale: Scale): number[][][] {
  const random = new SeededRandom(seed);
  return Array.from({ length: k }, () => draws(random, SHAPES).map((z, i) => z.map((zi, j) => zi * scale64(values[i]!, SHAPES[i]!, scale, sigma)[j]!)));
}

describe('worstOfK(): picks the worst candidate, on the device', () => {
  it.each([
    ['first', [9, 1, 2, 3], 0],
    ['third', [1, 2, 9, 3], 2],
    ['last', [1, 2, 3, 9], 3],
    ['a tie: the earliest', [1, 9, 9, 3], 1],
    ['negative losses', [-5, -4, -1, -2], 2],
    ['after a NaN loss (never chosen, never the bar)', [1, Number.NaN, 3, 2], 2],
  ] as const)('worst %s: ε is exactly that δ_j', (_label, losses, index) => {
    const { vars, values } = setup();
    for (const scale of ['standard', 'filter'] as const) {
      const { epsilon, calls, offsetsSeen } = pick({ k: 4, sigma: 0.1, scale }, vars, [...losses], 3);
      expect(calls).toBe(4);
      const expected = candidates(values, 3, 4, 0.1, scale);
      // evaluate saw δ_1 … δ_k in order (float32 products of the same Z and S: compared to 1e-6)
      offsetsSeen.forEach((seen, j) => {
        seen.forEach((t, i) => {
          t.forEach((v, e) => {
            expect(Math.abs(v - expected[j]![i]![e]!)).toBeLessThan(1e-6);
          });
        });
      });
      // ...and ε is the selected one, bit for bit.
      expect(epsilon).toEqual(offsetsSeen[index]);
    }
  });

  it('k = 1: no evaluation, and the ε of gaussian with the same seed, bit for bit', () => {
    const { vars } = setup();
    const { epsilon, calls } = pick({ k: 1, sigma: 0.1, scale: 'element' }, vars, [], 5);
    expect(calls).toBe(0);
    const rho = tf.scalar(0.1);
    created.push(rho);
    const reference = tf.tidy(() => gaussian({ scale: 'element' }).compute(contextOf(vars, { seed: 5, rho }), {}).epsilon);
    expect(epsilon).toEqual(vars.map((v) => Array.from(reference[v.name]!.dataSync())));
    tf.dispose(reference);
  });

  it('compute makes no device reads (the choice stays on the device)', () => {
    const { vars } = setup();
    const rho = tf.scalar(0.1);
    const losses = [1, 3, 2, 0].map((l) => tf.scalar(l));
    created.push(rho, ...losses);
    let call = 0;
    const evaluate = () => losses[call++]! as tf.Scalar;
    const { result, reads } = countBackendReads(() => tf.tidy(() => worstOfK({ k: 4 }).compute(contextOf(vars, { rho, evaluate }), {}).epsilon));
    expect(reads).toBe(0);
    expect(call).toBe(4);
    tf.dispose(result);
  });

  it('metadata: defaults, no clean pass', () => {
    expect(worstOfK()).toMatchObject({ kind: 'perturbation', name: 'worstOfK', rho: 0.01, needsGradient: false, config: { k: 4, sigma: 0.01, scale: 'standard' } });
  });
});

runFactoryInputSuite({
  name: 'worstOfK',
  factory: (options) => worstOfK(options as WorstOfKOptions),
  keys: ['k', 'sigma', 'scale'],
  valid: { k: 3, sigma: 0.05, scale: 'matrix' },
  invalid: [
    ['k', { k: 0 }],
    ['k', { k: -1 }],
    ['k', { k: 2.5 }],
    ['k', { k: null }],
    ['k', { k: Number.POSITIVE_INFINITY }],
    ['sigma', { sigma: -0.01 }],
    ['sigma', { sigma: null }],
    ['scale', { scale: 'global' }],
  ],
  kind: 'perturbation',
});

/** Random search in float64: per step k candidates, the one with the largest float64 L(w + δ_j), then SGD at w + δ*. */
function worst64(p: LinearProblem, steps: number, seed: number, k: number, sigma: number, scale: Scale, chosen: number[] = []): LinearParams {
  const random = new SeededRandom(seed);
  let w = p.init;
  for (let t = 0; t < steps; t += 1) {
    const s = linearValues(p, w).map((v, i) => scale64(v, linearShapes(p)[i]!, scale, sigma));
    const deltas = Array.from({ length: k }, () => linearEpsilon(p, draws(random, linearShapes(p)), s));
    const losses = deltas.map((d) => lossAt64(p, w, d));
    const best = losses.indexOf(Math.max(...losses));
    // the reference only means something if the worst is clearly worst (float32 cannot flip it)
    const sorted = [...losses].sort((a, b) => b - a);
    expect(sorted[0]! - sorted[1]!).toBeGreaterThan(1e-4 * sorted[0]!);
    chosen.push(best);
    w = sgdAt64(p, w, deltas[best]!, lr);
  }
  return w;
}

describe('the float64 reference chooses different candidates across steps (so first/last-only picks fail)', () => {
  it('k = 4, σ = 0.3, 4 steps', () => {
    const chosen: number[] = [];
    worst64(makeLinearProblem({ seed: 7 }), 4, 23, 4, 0.3, 'standard', chosen);
    expect(new Set(chosen).size).toBeGreaterThan(1);
    expect(chosen.some((c) => c !== 0 && c !== 3)).toBe(true);
  });
});

runOptimizerSuite('worstOfK() through sharpnessAware', [
  {
    name: 'k = 4, standard scale',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: worstOfK({ k: 4, sigma: 0.3 }), seed: 23 }),
    reference: { steps: 4, expected: (p) => worst64(p, 4, 23, 4, 0.3, 'standard') },
    badConfigs: [
      { key: 'k', make: () => worstOfK({ k: 0 }) },
      { key: 'sigma', make: () => worstOfK({ sigma: -1 }) },
      { key: 'scale', make: () => worstOfK({ scale: 'x' as never }) },
    ],
  },
  {
    name: 'k = 3, filter scale',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: worstOfK({ k: 3, sigma: 0.2, scale: 'filter' }), seed: 24 }),
    reference: { steps: 2, expected: (p) => worst64(p, 2, 24, 3, 0.2, 'filter') },
  },
  {
    name: 'k = 2 on momentum',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: worstOfK({ k: 2, sigma: 0.01 }), seed: 25 }),
  },
]);

describe('worstOfK(): degenerate σ and cost', () => {
  it('σ = 0 reduces exactly to the base optimizer (momentum, 10 steps)', () => {
    const problem = makeLinearProblem({ seed: 3 });
    const a = makeTfLinear(problem);
    const b = makeTfLinear(problem);
    const noisy = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: worstOfK({ sigma: 0 }), seed: 1 });
    const base = tf.train.momentum(lr, 0.9);
    for (let i = 0; i < 10; i += 1) {
      noisy.minimize(a.loss(), false, a.variables);
      base.minimize(b.loss(), false, b.variables);
    }
    expect(a.read()).toEqual(b.read());
    for (const d of [noisy, base, a, b]) d.dispose();
  });

  it.each([
    [1, 1],
    [2, 3],
    [4, 5],
  ])('k = %i: %i loss evaluations per step', async (k, perStep) => {
    const problem = makeLinearProblem({ seed: 4 });
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: worstOfK({ k }) });
    for (let i = 0; i < 3; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(3 * perStep);
    optimizer.dispose();
    model.dispose();
  });
});

describe('worstOfK: memory', () => {
  it('keeps at most two candidates (and one condition) alive: the peak does not grow with k', async () => {
    const shape = [64, 64];
    const v = variableOf(testValues(64 * 64, 5), shape);
    created.push(v);
    const rho = tf.scalar(0.01);
    created.push(rho);
    const peak = async (k: number) => {
      let calls = 0;
      const evaluate = (): tf.Scalar => tf.keep(tf.scalar((calls++ * 7) % 5));
      const info = await tf.profile(() => {
        const { epsilon } = tf.tidy(() => worstOfK({ k }).compute(contextOf([v], { seed: 1, rho, evaluate }), {}));
        tf.dispose(Object.values(epsilon));
      });
      return info.peakBytes - info.newBytes;
    };
    const bytes = 64 * 64 * 4;
    const two = await peak(2);
    const eight = await peak(8);
    // Each extra draw would add ~3 candidate-sized buffers if its leftovers lived until compute returned.
    expect(eight - two).toBeLessThan(bytes);
  });
});
