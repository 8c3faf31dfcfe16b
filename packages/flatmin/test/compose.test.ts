// Each preset equals the same composition written by hand from the parts with the paper's
// defaults spelled out: the same config (every component's name and resolved keys) and the same
// weights, bit for bit, after six steps. The methods move away from the base optimizer; the
// averager presets step exactly as the base optimizer does and keep a different average.
import type * as tf from '@tensorflow/tfjs-core';
import type { SharpnessAwareOptimizer } from '@flatmin/core';
import { makeTfLinear, type TfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { base, problem, rows } from './rows.js';

const STEPS = 6;

function run(make: (model: TfLinear) => SharpnessAwareOptimizer, objective: ((model: TfLinear) => () => unknown) | undefined) {
  const model = makeTfLinear(problem);
  const optimizer = make(model);
  const f = (objective ?? ((m: TfLinear) => m.loss()))(model);
  for (let step = 0; step < STEPS; step += 1) optimizer.minimize(f as () => tf.Scalar, false, model.variables);
  return { model, optimizer };
}

describe.each(rows)('$name', (row) => {
  it('equals its composition by hand: same config, same weights bit for bit after six steps', async () => {
    const preset = run(row.preset, row.objective);
    const hand = run(row.hand, row.objective);
    try {
      // The seed aside (the rows with random draws give both the same seed).
      const config = (o: SharpnessAwareOptimizer) => ({ ...o.getConfig(), seed: null });
      expect(config(preset.optimizer)).toEqual(config(hand.optimizer));
      expect(preset.model.read()).toEqual(hand.model.read());
      expect(preset.optimizer.lossEvaluations).toBe(hand.optimizer.lossEvaluations);
      expect(preset.optimizer.sharpSteps).toBe(hand.optimizer.sharpSteps);
      expect((await preset.optimizer.telemetry()).rho).toBe((await hand.optimizer.telemetry()).rho);
      const weights = preset.model.read();
      if (row.averaged) {
        preset.optimizer.averager!.apply();
        hand.optimizer.averager!.apply();
        const averaged = preset.model.read();
        expect(averaged).toEqual(hand.model.read());
        expect(averaged).not.toEqual(weights);
        preset.optimizer.averager!.restore();
        hand.optimizer.averager!.restore();
      }
      // Against the base optimizer alone: an averager preset's steps are its plain steps exactly,
      // every other preset moves elsewhere.
      const plain = makeTfLinear(problem);
      const sgd = base();
      for (let step = 0; step < STEPS; step += 1) sgd.minimize(plain.loss(), false, plain.variables);
      if (row.averaged) expect(weights).toEqual(plain.read());
      else expect(weights).not.toEqual(plain.read());
      sgd.dispose();
      plain.dispose();
    } finally {
      for (const { model, optimizer } of [preset, hand]) {
        optimizer.dispose();
        model.dispose();
      }
    }
  });
});
