// decide() on its own, as the optimizer calls it (inside a tidy, state passed in and returned):
// μ, σ² and the decision over three steps against the float64 recursions, ‖g‖² over the updated
// variables only, the tie ‖g‖² = threshold (a zero gradient) is sharp, and no clean gradient is
// a named error.
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminError, type NamedTensors, type ScheduleContext } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { adaptivePolicy } from '../src/index.js';
import { replayDecisions } from './reference.js';

let counter = 0;
const variables = [tf.variable(tf.zeros([2, 2]), true, `sa-decide/w${++counter}`), tf.variable(tf.zeros([3]), true, `sa-decide/b${++counter}`)];
const outsider = tf.variable(tf.zeros([2]), true, `sa-decide/other${++counter}`);
afterAll(() => tf.dispose([...variables, outsider]));

function context(step: number, grads: NamedTensors | null): ScheduleContext {
  return { step, random: new SeededRandom(0), normEpsilon: 1e-12, learningRate: 0.1, variables, grads, loss: null };
}

/** One decide() as the optimizer runs it; returns the decision, the new state as numbers, and keeps the state tensors. */
function decideOnce(schedule: ReturnType<typeof adaptivePolicy>, step: number, values: [number[], number[]], state: ComponentState, extra: NamedTensors = {}) {
  const out = tf.tidy(() => {
    const grads: NamedTensors = { [variables[0]!.name]: tf.tensor2d(values[0], [2, 2]), [variables[1]!.name]: tf.tensor1d(values[1]), ...extra };
    const result = schedule.decide(context(step, grads), state);
    for (const t of Object.values(result.state ?? {})) if (typeof t !== 'number') tf.keep(t);
    return result as unknown as tf.TensorContainer;
  }) as unknown as ReturnType<typeof schedule.decide>;
  const next = out.state ?? {};
  const read = (key: string) => (next[key] as tf.Tensor).dataSync()[0]!;
  return { sharp: out.decision.sharp, rho: out.decision.rho, state: next, mean: read('mean'), variance: read('variance') };
}

const dispose = (state: ComponentState) => tf.dispose(Object.values(state).filter((v): v is tf.Tensor => typeof v !== 'number'));

describe('adaptivePolicy().decide', () => {
  // Three steps; ‖g‖² of each in float64 from the values.
  const grads: Array<[number[], number[]]> = [
    [
      [1, 2, 3, 4],
      [0.5, -0.5, 1],
    ],
    [
      [0.5, 0.25, -1, 0],
      [0, 0, 0.5],
    ],
    [
      [3, -2, 1, 4],
      [2, 1, -1],
    ],
  ];
  const squares = grads.map(([w, b]) => [...w, ...b].reduce((s, v) => s + v * v, 0));

  it('μ, σ² and the decision of three steps match the float64 recursions (δ = 0.8, λ₁ = −1, λ₂ = 2, T = 2)', () => {
    const rule = { delta: 0.8, lambda1: -1, lambda2: 2, totalSteps: 2 };
    const schedule = adaptivePolicy(rule);
    const expected = replayDecisions(squares, rule);
    expect(expected.map((e) => e.sharp)).toEqual([true, false, true]);
    let state: ComponentState = {};
    for (const [t, values] of grads.entries()) {
      const out = decideOnce(schedule, t, values, state);
      dispose(state);
      state = out.state;
      expect(out.sharp).toBe(expected[t]!.sharp);
      expect(out.rho).toBeUndefined(); // the perturbation's own ρ
      expect(Math.abs(out.mean - expected[t]!.mean) / expected[t]!.mean).toBeLessThan(1e-6);
      expect(Math.abs(out.variance - expected[t]!.variance) / expected[t]!.variance).toBeLessThan(1e-5);
    }
    dispose(state);
  });

  it('sums ‖g‖² over the updated variables only (a gradient of another variable is ignored)', () => {
    const schedule = adaptivePolicy({ totalSteps: 10 });
    const alone = decideOnce(schedule, 0, grads[0]!, {});
    const withOther = tf.tidy(() => ({ [outsider.name]: tf.keep(tf.tensor1d([100, 100])) }));
    const mixed = decideOnce(schedule, 0, grads[0]!, {}, withOther);
    expect(mixed.mean).toBe(alone.mean);
    expect(alone.mean).toBeCloseTo(0.1 * squares[0]!, 5);
    tf.dispose([Object.values(withOther), Object.values(alone.state), Object.values(mixed.state)]);
  });

  it('a zero gradient is the tie 0 ≥ 0 + c·0: sharp (the rule is ≥), and μ, σ² stay 0', () => {
    const out = decideOnce(adaptivePolicy({ totalSteps: 10 }), 0, [[0, 0, 0, 0], [0, 0, 0]], {});
    expect(out.sharp).toBe(true);
    expect([out.mean, out.variance]).toEqual([0, 0]);
    dispose(out.state);
  });

  it('throws a FlatminError when called with no clean gradient', () => {
    const schedule = adaptivePolicy({ totalSteps: 10 });
    expect(() => schedule.decide(context(0, null), {})).toThrow(FlatminError);
    expect(() => schedule.decide(context(0, null), {})).toThrow(/needsGradient/);
  });
});
