// The harness checks itself: the analytic float64 gradient against finite differences, and
// each assertion helper fails when it should.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  countHostReads,
  expectConfigError,
  expectKeyRefused,
  expectNoTensorGrowth,
  expectOptionsRefused,
  expectRefused,
  flatten,
  linearGrad64,
  linearLoss64,
  makeLinearProblem,
  makeTfLinear,
  runFactoryInputSuite,
  runRefusalTable,
  unflatten,
} from '../src/index.js';

describe('float64 linear reference', () => {
  const problem = makeLinearProblem({ n: 6, d: 3, k: 2, seed: 3 });

  it('its analytic gradient matches central finite differences', () => {
    const w = flatten(problem.init);
    const analytic = flatten(linearGrad64(problem, problem.init, [0, 2, 5]));
    const h = 1e-6;
    w.forEach((_, i) => {
      const plus = w.map((v, j) => (j === i ? v + h : v));
      const minus = w.map((v, j) => (j === i ? v - h : v));
      const numeric = (linearLoss64(problem, unflatten(problem, plus), [0, 2, 5]) - linearLoss64(problem, unflatten(problem, minus), [0, 2, 5])) / (2 * h);
      expect(analytic[i]).toBeCloseTo(numeric, 6);
    });
  });

  it('the tfjs loss closure computes the same loss', () => {
    const model = makeTfLinear(problem);
    const loss = model.loss([1, 3])();
    expect(loss.arraySync()).toBeCloseTo(linearLoss64(problem, problem.init, [1, 3]), 5);
    loss.dispose();
    model.dispose();
  });
});

describe('assertion helpers fail when they should', () => {
  it('countHostReads counts dataSync and data()', async () => {
    const t = tf.tensor1d([1, 2]);
    expect(countHostReads(() => t.dataSync()).reads).toBe(1);
    const { result, reads } = countHostReads(() => t.data());
    expect(reads).toBe(1);
    expect(Array.from(await result)).toEqual([1, 2]);
    expect(countHostReads(() => t.arraySync()).reads).toBe(1);
    expect(countHostReads(() => tf.tidy(() => tf.add(t, 1))).reads).toBe(0);
    t.dispose();
  });

  it('expectNoTensorGrowth catches a leak', async () => {
    const leaked: tf.Tensor[] = [];
    await expect(expectNoTensorGrowth(() => leaked.push(tf.scalar(1)), { steps: 5, warmup: 0 })).rejects.toThrow();
    for (const t of leaked) t.dispose();
  });

  it('expectConfigError rejects a wrong key and a plain Error', () => {
    const error = Object.assign(new Error("invalid config 'rho'"), { name: 'FlatminConfigError', key: 'rho' });
    expect(() => expectConfigError(() => {
      throw error;
    }, 'p')).toThrow();
    expect(() => expectConfigError(() => {
      throw new Error('rho');
    }, 'rho')).toThrow();
    expectConfigError(() => {
      throw error;
    }, 'rho');
  });
});

class FakeConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'FlatminConfigError';
  }
}

/** A factory written the way the kit expects: refuses non-objects, unknown keys and a bad `lambda`. */
function strictFactory(options?: unknown): unknown {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new FakeConfigError('options', 'blend: expected an options object { lambda }');
  for (const key of Object.keys(options)) if (key !== 'lambda') throw new FakeConfigError(key, `blend: no such key ${key}`);
  const lambda = (options as { lambda?: unknown }).lambda ?? 0.5;
  if (typeof lambda !== 'number' || lambda < 0 || lambda > 1) throw new FakeConfigError('lambda', 'blend: lambda must be in [0, 1]');
  return { kind: 'combiner', name: 'blend', config: { lambda } };
}

/** The bug the issue names: a positional number is silently taken as "no options". */
function lenientFactory(options?: unknown): unknown {
  const lambda = typeof options === 'object' && options !== null ? ((options as { lambda?: number }).lambda ?? 0.5) : 0.5;
  return { kind: 'combiner', name: 'blend', config: { lambda } };
}

const blendSpec = { name: 'blend', keys: ['lambda'], valid: { lambda: 0.3 }, invalid: [['lambda', { lambda: 2 }]] as const, kind: 'combiner' };

runFactoryInputSuite({ ...blendSpec, factory: strictFactory });

runRefusalTable('runRefusalTable on a strict factory', [
  { title: 'a bad lambda', call: () => strictFactory({ lambda: -1 }), error: 'FlatminConfigError', key: 'lambda', message: /\[0, 1\]/ },
]);

describe('the input assertions fail on a factory that ignores bad input', () => {
  it('expectOptionsRefused fails when blend(0.9) is silently accepted', () => {
    expect(() => expectOptionsRefused({ ...blendSpec, factory: lenientFactory }, 0.9)).toThrow();
    expect(() => expectOptionsRefused({ ...blendSpec, factory: strictFactory }, 0.9)).not.toThrow();
  });

  it('expectKeyRefused fails when the error names another key, or nothing is thrown', () => {
    expect(() => expectKeyRefused({ ...blendSpec, factory: lenientFactory }, { lambda: 2 }, 'lambda')).toThrow();
    expect(() => expectKeyRefused({ ...blendSpec, factory: strictFactory }, { lambda: 2 }, 'options')).toThrow();
  });

  it('expectRefused fails on a raw TypeError and on the wrong error name', () => {
    const typeError = () => (undefined as unknown as { minimize: () => void }).minimize();
    expect(() => expectRefused({ title: 'raw', call: typeError, error: 'FlatminConfigError', message: /./ })).toThrow();
    const wrongName = () => {
      throw new Error('base is missing');
    };
    expect(() => expectRefused({ title: 'plain Error', call: wrongName, error: 'FlatminError', message: /base/ })).toThrow();
  });
});
