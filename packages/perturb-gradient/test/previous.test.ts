// from: 'previous' — the one-backward lookahead variant (OG-SAM, Yu et al.): ε from the
// previous sharp step's adversarial gradient, stored by `observe` keyed by variable name.
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, NamedTensors } from '@flatmin/core';
import { afterEach, describe, expect, it } from 'vitest';
import { gradient } from '../src/index.js';
import {
  disposeReplaced,
  expectClose,
  makeVariables,
  namedTensors,
  observeContext,
  perturbationContext,
  readEpsilon,
  referenceEpsilon,
  testValues,
} from './helpers.js';

const SHAPES = [[2, 3], [4], []] as const;
const created: tf.Tensor[] = [];
afterEach(() => {
  tf.dispose(created.splice(0));
});

function setup() {
  const variables = makeVariables(SHAPES);
  const sizes = variables.map((v) => v.size);
  const clean = sizes.map((size, i) => testValues(size, 1 + i));
  const adv = sizes.map((size, i) => testValues(size, 50 + i));
  const grads = namedTensors(variables, clean);
  const gradsAdv = namedTensors(variables, adv);
  const rho = tf.scalar(0.05);
  created.push(...variables, ...Object.values(grads), ...Object.values(gradsAdv), rho);
  return { variables, clean, adv, grads, gradsAdv, rho };
}

function tensorsOf(state: ComponentState): tf.Tensor[] {
  return Object.values(state).filter((v): v is tf.Tensor => typeof v !== 'number');
}

describe("gradient({ from: 'previous' })", () => {
  it('needs no clean gradient and has an observe hook', () => {
    const perturbation = gradient({ from: 'previous' });
    expect(perturbation.needsGradient).toBe(false);
    expect(typeof perturbation.observe).toBe('function');
  });

  it('the first compute gives ε = 0 (no entries), with or without a clean gradient', () => {
    const { variables, grads, rho } = setup();
    const perturbation = gradient({ from: 'previous' });
    for (const g of [null, grads]) {
      const result = perturbation.compute(perturbationContext(variables, g, rho), {});
      expect(result.epsilon).toEqual({});
      expect(result.state).toBeUndefined();
    }
  });

  it('observe stores g_adv under "<variable.name>:previous" (new handles, same values)', () => {
    const { variables, adv, gradsAdv, rho } = setup();
    const perturbation = gradient({ from: 'previous' });
    const state = tf.tidy(() => perturbation.observe!(observeContext(variables, gradsAdv, rho), {}));
    expect(Object.keys(state).sort()).toEqual(variables.map((v) => `${v.name}:previous`).sort());
    variables.forEach((v, i) => {
      const stored = state[`${v.name}:previous`] as tf.Tensor;
      expect(stored).not.toBe(gradsAdv[v.name]);
      expect(stored.shape).toEqual(v.shape);
      expect(Array.from(stored.dataSync())).toEqual(adv[i]);
    });
    // The optimizer disposes gradsAdv after the step: the state must survive it.
    const copies = variables.map((v) => tf.clone(gradsAdv[v.name]!));
    tf.dispose(Object.values(gradsAdv));
    variables.forEach((v, i) => {
      expect(state[`${v.name}:previous`]!).toBeInstanceOf(tf.Tensor);
      expect(Array.from((state[`${v.name}:previous`] as tf.Tensor).dataSync())).toEqual(Array.from(copies[i]!.dataSync()));
    });
    tf.dispose([copies, tensorsOf(state)]);
  });

  it.each([2, 3, 1.5, Number.POSITIVE_INFINITY, 1])(
    'p = %s: after observe, compute applies the dual-norm formula to the stored g_adv (ignoring the clean g)',
    (p) => {
      const { variables, adv, grads, gradsAdv, rho } = setup();
      const perturbation = gradient({ from: 'previous', p, rho: 0.01 });
      const state = tf.tidy(() => perturbation.observe!(observeContext(variables, gradsAdv, rho, grads), {}));
      const contextRho = tf.scalar(0.2);
      const epsilon = tf.tidy(() => perturbation.compute(perturbationContext(variables, grads, contextRho, 1), state).epsilon);
      const expected = referenceEpsilon(adv, p, 0.2);
      readEpsilon(epsilon, variables).forEach((e, i) => {
      expectClose(e, expected[i]!);
    });
      tf.dispose([epsilon, contextRho, tensorsOf(state)]);
    },
  );

  it('state is keyed by variable name: order does not matter, unknown variables get no ε', () => {
    const { variables, adv, gradsAdv, rho } = setup();
    const perturbation = gradient({ from: 'previous' });
    const state = tf.tidy(() => perturbation.observe!(observeContext(variables, gradsAdv, rho), {}));
    const reversed = [...variables].reverse();
    const [extra] = makeVariables([[3]]);
    created.push(extra!);
    const epsilon = tf.tidy(() => perturbation.compute(perturbationContext([extra!, ...reversed], null, rho), state).epsilon);
    expect(Object.keys(epsilon).sort()).toEqual(variables.map((v) => v.name).sort());
    const expected = referenceEpsilon(adv, 2, 0.05);
    readEpsilon(epsilon, variables).forEach((e, i) => {
      expectClose(e, expected[i]!);
    });
    tf.dispose([epsilon, tensorsOf(state)]);
  });

  it('observe keeps the stored gradient of variables without a new g_adv and ignores out-of-scope ones', () => {
    const { variables, adv, gradsAdv, rho } = setup();
    const [a, b, c] = variables as [tf.Variable, tf.Variable, tf.Variable];
    const perturbation = gradient({ from: 'previous' });
    const first = tf.tidy(() => perturbation.observe!(observeContext(variables, gradsAdv, rho), { counter: 7 }));
    // Second sharp step: only `a` has a new adversarial gradient; `b` is out of scope.
    const newA = tf.fill(a.shape, 0.5);
    const secondAdv: NamedTensors = { [a.name]: newA, [b.name]: tf.fill(b.shape, 9) };
    created.push(newA, secondAdv[b.name]!);
    const second = tf.tidy(() => perturbation.observe!(observeContext([a, c], secondAdv, rho), first));
    disposeReplaced(first, second);
    expect(second['counter']).toBe(7);
    expect(Array.from((second[`${a.name}:previous`] as tf.Tensor).dataSync())).toEqual(new Array(6).fill(0.5));
    expect(Array.from((second[`${b.name}:previous`] as tf.Tensor).dataSync())).toEqual(adv[1]);
    expect(Array.from((second[`${c.name}:previous`] as tf.Tensor).dataSync())).toEqual(adv[2]);
    tf.dispose(tensorsOf(second));
  });

  it('ρ = 0 gives ε exactly 0 after observe', () => {
    const { variables, gradsAdv } = setup();
    const zero = tf.scalar(0);
    const perturbation = gradient({ from: 'previous', rho: 0 });
    const state = tf.tidy(() => perturbation.observe!(observeContext(variables, gradsAdv, zero), {}));
    const epsilon = tf.tidy(() => perturbation.compute(perturbationContext(variables, null, zero), state).epsilon);
    for (const e of readEpsilon(epsilon, variables).flat()) expect(e === 0).toBe(true);
    tf.dispose([epsilon, zero, tensorsOf(state)]);
  });

  it('a zero stored gradient gives ε exactly 0 for every p', () => {
    const variables = makeVariables(SHAPES);
    created.push(...variables);
    const zeros: NamedTensors = {};
    for (const v of variables) zeros[v.name] = tf.zeros(v.shape);
    const rho = tf.scalar(0.05);
    created.push(...Object.values(zeros), rho);
    for (const p of [2, 3, 1.5, Number.POSITIVE_INFINITY, 1]) {
      const perturbation = gradient({ from: 'previous', p });
      const state = tf.tidy(() => perturbation.observe!(observeContext(variables, zeros, rho), {}));
      const epsilon = tf.tidy(() => perturbation.compute(perturbationContext(variables, null, rho), state).epsilon);
      for (const e of readEpsilon(epsilon, variables).flat()) expect(e === 0).toBe(true);
      tf.dispose([epsilon, tensorsOf(state)]);
    }
  });
});
