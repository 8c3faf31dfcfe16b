// Test-only components written from the METHODS.md formulas, so core's tests do not depend
// on the component packages (which depend on core).
import * as tf from '@tensorflow/tfjs-core';
import type { Averager, ComponentState, NamedTensors, Perturbation } from '../src/index.js';
import { globalNorm, mapNamed } from '../src/kit.js';

/** SAM's ε = ρ g/(‖g‖ + 1e-12) with one global norm. */
export function samPerturbation(rho = 0.05): Perturbation {
  return {
    kind: 'perturbation',
    name: 'test-sam',
    config: { rho },
    rho,
    needsGradient: true,
    compute: ({ grads, rho: r, normEpsilon }) => {
      const g = grads ?? {};
      const scale = tf.div(r, tf.add(globalNorm(Object.values(g)), normEpsilon));
      return { epsilon: mapNamed(g, (t) => tf.mul(t, scale)) };
    },
  };
}

/** ε = σ·Z, Z ~ N(0, 1) from the optimizer's seeded source; no clean pass. */
export function noisePerturbation(sigma = 0.1): Perturbation {
  return {
    kind: 'perturbation',
    name: 'test-noise',
    config: { sigma },
    rho: sigma,
    needsGradient: false,
    compute: ({ variables, random }) => {
      const epsilon: NamedTensors = {};
      for (const v of variables) epsilon[v.name] = tf.mul(random.normal(v.shape), sigma);
      return { epsilon };
    },
  };
}

/** A running mean of the weights: w̄ ← w̄ + (w − w̄)/(n + 1), with n a host counter in the state. */
export function meanAverager(): Averager {
  return {
    kind: 'averager',
    name: 'test-mean',
    config: {},
    update: ({ variables }, state) => {
      const n = (state['count'] as number | undefined) ?? 0;
      const next: Record<string, tf.Tensor | number> = { count: n + 1 };
      for (const v of variables) {
        const previous = state[`${v.name}:mean`] as tf.Tensor | undefined;
        next[`${v.name}:mean`] = previous === undefined ? tf.clone(v) : tf.add(previous, tf.div(tf.sub(v, previous), n + 1));
      }
      return next;
    },
    averaged: (state: ComponentState) => {
      const out: NamedTensors = {};
      for (const [key, value] of Object.entries(state)) if (key.endsWith(':mean') && typeof value !== 'number') out[key.slice(0, -5)] = value;
      return out;
    },
  };
}

/** ē ← ½ē + ½w (ē = w on the first update): all state on the device, so a skipped step can keep it exactly. */
export function emaAverager(): Averager {
  return {
    kind: 'averager',
    name: 'test-ema',
    config: {},
    update: ({ variables }, state) => {
      const next: Record<string, tf.Tensor | number> = {};
      for (const v of variables) {
        const previous = state[`${v.name}:ema`] as tf.Tensor | undefined;
        next[`${v.name}:ema`] = previous === undefined ? tf.clone(v) : tf.add(tf.mul(previous, 0.5), tf.mul(v, 0.5));
      }
      return next;
    },
    averaged: (state: ComponentState) => {
      const out: NamedTensors = {};
      for (const [key, value] of Object.entries(state)) if (key.endsWith(':ema') && typeof value !== 'number') out[key.slice(0, -4)] = value;
      return out;
    },
  };
}
