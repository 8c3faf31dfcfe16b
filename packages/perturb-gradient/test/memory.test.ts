// compute/observe leak nothing over 100 steps and never read the device.
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, NamedTensors } from '@flatmin/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GradientOptions, gradient } from '../src/index.js';
import {
  countBackendReads,
  disposeReplaced,
  makeVariables,
  namedTensors,
  observeContext,
  perturbationContext,
  testValues,
} from './helpers.js';

const CONFIGS: GradientOptions[] = [
  { p: 2 },
  { p: 3 },
  { p: 1.5 },
  { p: 1 },
  { p: 'inf' },
  { from: 'previous' },
  { from: 'previous', p: 3 },
  { from: 'previous', p: 1 },
];

let variables: tf.Variable[];
let grads: NamedTensors;
let gradsAdv: NamedTensors;
let rho: tf.Scalar;

beforeAll(() => {
  variables = makeVariables([[8, 4], [4], [], [3, 3, 2]]);
  grads = namedTensors(
    variables,
    variables.map((v, i) => testValues(v.size, 3 + i)),
  );
  gradsAdv = namedTensors(
    variables,
    variables.map((v, i) => testValues(v.size, 30 + i)),
  );
  rho = tf.scalar(0.05);
});

afterAll(() => {
  tf.dispose([variables, grads, gradsAdv, rho]);
});

/** One optimizer-like step: compute (+ observe) in a tidy, old state and ε disposed afterwards. */
function step(options: GradientOptions, state: ComponentState, t: number): ComponentState {
  const perturbation = gradient(options);
  const out = tf.tidy(() => {
    const result = perturbation.compute(perturbationContext(variables, grads, rho, t), state);
    const afterCompute = result.state ?? state;
    const next = perturbation.observe
      ? perturbation.observe(observeContext(variables, gradsAdv, rho, grads, t), afterCompute)
      : afterCompute;
    return { epsilon: result.epsilon, state: next };
  });
  disposeReplaced(state, out.state);
  tf.dispose(out.epsilon);
  return out.state;
}

describe('gradient(): memory and host reads', () => {
  it.each(CONFIGS)('%j: 100 steps in tf.tidy leak no tensors and no bytes', (options) => {
    let state: ComponentState = {};
    state = step(options, state, 0); // the first step may create state
    const { numTensors, numBytes } = tf.memory();
    for (let t = 1; t <= 100; t++) state = step(options, state, t);
    expect(tf.memory().numTensors).toBe(numTensors);
    expect(tf.memory().numBytes).toBe(numBytes);
    const stateTensors = Object.values(state).filter((v): v is tf.Tensor => typeof v !== 'number');
    expect(stateTensors.length).toBe(options.from === 'previous' ? variables.length : 0);
    tf.dispose(stateTensors);
  });

  it.each(CONFIGS)('%j: compute and observe make zero backend reads', (options) => {
    const perturbation = gradient(options);
    let state: ComponentState = {};
    const { result, reads } = countBackendReads(() => {
      const kept: tf.Tensor[] = [];
      for (let t = 0; t < 5; t++) {
        const out = tf.tidy(() => {
          const r = perturbation.compute(perturbationContext(variables, grads, rho, t), state);
          const next = perturbation.observe
            ? perturbation.observe(observeContext(variables, gradsAdv, rho, grads, t), r.state ?? state)
            : (r.state ?? state);
          return { epsilon: r.epsilon, state: next };
        });
        disposeReplaced(state, out.state);
        kept.push(...Object.values(out.epsilon));
        state = out.state;
      }
      return kept;
    });
    expect(reads).toBe(0);
    // Sanity: the counter does see reads.
    expect(countBackendReads(() => result[0]?.dataSync()).reads).toBeGreaterThan(0);
    tf.dispose([result, Object.values(state).filter((v): v is tf.Tensor => typeof v !== 'number')]);
  });
});
