// GSAM's ρ follows the learning rate from the base optimizer's own rate: ρ = ρ_max at the start,
// and ρ_max·η/η_max after a schedule lowers η (METHODS.md's formula with ρ_min = η_min = 0).
import * as tf from '@tensorflow/tfjs-core';
import { makeTfLinear } from '@flatmin/test-kit';
import { expect, it } from 'vitest';
import { gsam } from '../src/index.js';
import { problem } from './rows.js';

it('takes η_max from the base optimizer and scales ρ with the learning rate', async () => {
  const model = makeTfLinear(problem);
  const optimizer = gsam({ base: tf.train.sgd(0.2), rhoMax: 0.04 });
  optimizer.minimize(model.loss(), false, model.variables);
  expect((await optimizer.telemetry()).rho).toBeCloseTo(0.04, 7);
  optimizer.learningRate = 0.05;
  optimizer.minimize(model.loss(), false, model.variables);
  expect((await optimizer.telemetry()).rho).toBeCloseTo((0.04 * 0.05) / 0.2, 7);
  const explicit = gsam({ base: tf.train.sgd(0.2), rhoMax: 0.04, rhoMin: 0.01, lrMax: 0.4, lrMin: 0.1 });
  explicit.minimize(model.loss(), false, model.variables);
  expect((await explicit.telemetry()).rho).toBeCloseTo(0.01 + (0.03 * (0.2 - 0.1)) / 0.3, 7);
  for (const o of [optimizer, explicit]) o.dispose();
  model.dispose();
});
