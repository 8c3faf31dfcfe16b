// Every preset through the common matrix. The presets a plain `() => loss` trains run through the
// test kit's runOptimizerSuite (float64 reference where one is written here, convergence, no tensor
// growth over 100 steps, zero host reads per step, 5 + save/restore + 5 = 10 steps exactly); the
// three that need a custom loop's closure (ESAM's per-sample losses, ImbSAM's parts, LETS'
// validation batch over the model's own variables) get the same leak / host-read / round-trip
// checks with their closure.
import * as tf from '@tensorflow/tfjs-core';
import type { SharpnessAwareOptimizer } from '@flatmin/core';
import {
  axpy,
  countHostReads,
  expectNoTensorGrowth,
  type LinearParams,
  type LinearProblem,
  linearGrad64,
  makeTfLinear,
  norm64,
  type OptimizerCase,
  runOptimizerSuite,
  scale64,
  type TfLinear,
} from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { problem, type Row, rows } from './rows.js';

const dot64 = (a: LinearParams, b: LinearParams) =>
  a.w.reduce((s, row, i) => s + row.reduce((t, v, j) => t + v * b.w[i]![j]!, 0), 0) + a.b.reduce((s, v, j) => s + v * b.b[j]!, 0);

/** One SAM step in float64 (METHODS.md: ε = ρ g/(‖g‖ + 1e-12), g_adv = ∇L(w + ε)); returns the update direction too. */
function samStep64(p: LinearProblem, w: LinearParams, rho: number) {
  const g = linearGrad64(p, w);
  const epsilon = scale64(rho / (norm64(g) + 1e-12), g);
  return { g, gAdv: linearGrad64(p, axpy(1, epsilon, w)) };
}
const LR = 0.05;

const references: Partial<Record<Row['name'], OptimizerCase['reference']>> = {
  // Momentum's first step is an SGD step: w₁ = w₀ − η g_adv.
  sam: { steps: 1, expected: (p) => axpy(-LR, samStep64(p, p.init, 0.05).gAdv, p.init) },
  // GSAM at η = η_max: ρ = ρ_max = 0.05; g_final = g_adv − 0.4 (g − (g·g_adv/‖g_adv‖²) g_adv).
  gsam: {
    steps: 1,
    expected: (p) => {
      const { g, gAdv } = samStep64(p, p.init, 0.05);
      const perpendicular = axpy(-dot64(g, gAdv) / dot64(gAdv, gAdv), gAdv, g);
      return axpy(-LR, axpy(-0.4, perpendicular, gAdv), p.init);
    },
  },
  // SWA's steps are plain momentum steps (acc ← 0.9 acc + g, w ← w − η acc).
  swa: {
    steps: 3,
    expected: (p) => {
      let w = p.init;
      let acc = scale64(0, w);
      for (let t = 0; t < 3; t += 1) {
        acc = axpy(0.9, acc, linearGrad64(p, w));
        acc = { w: acc.w, b: acc.b };
        w = axpy(-LR, acc, w);
      }
      return w;
    },
  },
};

const CONVERGES = new Set<Row['name']>(['sam', 'rwp', 'swa']);
const CUSTOM = new Set<Row['name']>(['esam', 'imbSam', 'lets']);
const unused = undefined as unknown as TfLinear; // the plain rows' factories ignore the model

runOptimizerSuite(
  'every preset a plain closure trains, through the common matrix',
  rows
    .filter((row) => !CUSTOM.has(row.name))
    .map((row) => ({
      name: row.name,
      make: () => row.preset(unused),
      // Convergence is each part's own test; here one gradient, one noise and one averager preset.
      converges: CONVERGES.has(row.name),
      roundTripSteps: 10,
      ...(references[row.name] === undefined ? {} : { reference: references[row.name]! }),
      ...(row.readsPerStep === undefined ? {} : { readsPerStep: row.readsPerStep }),
    })),
);

describe.each(rows.filter((row) => CUSTOM.has(row.name)))('$name in its custom loop', (row) => {
  const train = (optimizer: SharpnessAwareOptimizer, model: TfLinear, steps: number) => {
    const f = row.objective === undefined ? model.loss() : row.objective(model);
    for (let i = 0; i < steps; i += 1) optimizer.minimize(f, false, model.variables)?.dispose();
  };

  it('leaks no tensors over 100 steps and reads nothing from the device', async () => {
    const model = makeTfLinear(problem);
    const optimizer = row.preset(model);
    await expectNoTensorGrowth(() => train(optimizer, model, 1));
    expect(countHostReads(() => train(optimizer, model, 10)).reads).toBe(0);
    optimizer.dispose();
    model.dispose();
  });

  it('round-trips getWeights/setWeights: 10 + save/restore + 10 steps equals 20 steps', async () => {
    const straightModel = makeTfLinear(problem);
    const straight = row.preset(straightModel);
    train(straight, straightModel, 20);
    const expected = straightModel.read();
    straight.dispose();
    straightModel.dispose();

    const names: [string, string] = [`custom-${row.name}/w`, `custom-${row.name}/b`];
    const first = makeTfLinear(problem, { names });
    const before = row.preset(first);
    train(before, first, 10);
    const saved = (await before.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const params = first.read();
    before.dispose();
    first.dispose();
    const second = makeTfLinear(problem, { params, names });
    const after = row.preset(second);
    await after.setWeights(saved);
    for (const w of saved) w.tensor.dispose();
    train(after, second, 10);
    expect(second.read()).toEqual(expected);
    after.dispose();
    second.dispose();
  });
});
