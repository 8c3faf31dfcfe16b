// The claim the page and its browser test rest on, checked on the cpu backend with the real
// packages and against an independent float64 simulation of the two methods:
// from the two-minima function's default start, plain SGD ends in the sharp pit and SAM
// (ρ = 1.1) in the flat valley; the outcome holds for nearby starts and radii, so float32
// rounding (cpu or webgl) cannot flip it.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { compose, DEFAULT_COMPOSITION } from '../src/compose.js';
import { type Point, twoMinima } from '../src/functions.js';
import { PRESETS, presetById } from '../src/presets.js';
import { runOn } from '../src/run.js';
import { basinOf } from '../src/sharpness.js';

/** Float64 SGD (ρ = 0) or SAM: w ← w − η ∇f(w + ρ ∇f(w)/(‖∇f(w)‖ + 1e-12)), the seed's SAM update. */
function reference(start: Point, rho: number, lr = twoMinima.learningRate, steps = twoMinima.steps): Point {
  let [x, y] = start;
  for (let t = 0; t < steps; t += 1) {
    const [gx, gy] = twoMinima.gradient(x, y);
    const scale = rho / (Math.hypot(gx, gy) + 1e-12);
    const [ax, ay] = twoMinima.gradient(x + scale * gx, y + scale * gy);
    x -= lr * ax;
    y -= lr * ay;
  }
  return [x, y];
}

const settings = { learningRate: twoMinima.learningRate, steps: twoMinima.steps, seed: 1, rho: twoMinima.rho };

describe('two minima: SGD ends in the sharp pit, SAM in the flat valley', () => {
  it('float64 reference from the default start: SGD at the sharp minimum, SAM at the flat one', () => {
    const sgd = reference(twoMinima.start, 0);
    const sam = reference(twoMinima.start, 1.1);
    expect(Math.hypot(sgd[0] + 0.4828, sgd[1] - 0.5797)).toBeLessThan(1e-3);
    expect(Math.hypot(sam[0] - 1, sam[1])).toBeLessThan(0.05);
    expect(basinOf(twoMinima, sgd)).toBe('sharp');
    expect(basinOf(twoMinima, sam)).toBe('flat');
  });

  it('float64: the same for every start within ±0.1 and ρ in {1.0, 1.1, 1.2} (a margin, not a knife edge)', () => {
    for (const dx of [-0.1, -0.05, 0, 0.05, 0.1]) {
      for (const dy of [-0.1, -0.05, 0, 0.05, 0.1]) {
        const start: Point = [twoMinima.start[0] + dx, twoMinima.start[1] + dy];
        expect(basinOf(twoMinima, reference(start, 0)), `SGD from ${start}`).toBe('sharp');
        for (const rho of [1.0, 1.1, 1.2]) {
          const end = reference(start, rho);
          expect(Math.hypot(end[0] - 1, end[1]), `SAM ρ=${rho} from ${start}`).toBeLessThan(0.1);
        }
      }
    }
  });

  it('the SAM preset and SGD on tfjs (cpu, float32) end where the float64 reference does', async () => {
    const sam = await runOn(twoMinima, presetById('sam').create(settings), { label: 'SAM', start: twoMinima.start, steps: twoMinima.steps });
    const sgd = await runOn(twoMinima, presetById('sgd').create(settings), { label: 'SGD', start: twoMinima.start, steps: twoMinima.steps });
    expect(sam.trajectory).toHaveLength(twoMinima.steps + 1);
    expect(sam.basin).toBe('flat');
    expect(sgd.basin).toBe('sharp');
    const [samRef, sgdRef] = [reference(twoMinima.start, 1.1), reference(twoMinima.start, 0)];
    expect(Math.hypot(sam.end[0] - samRef[0], sam.end[1] - samRef[1])).toBeLessThan(0.06);
    expect(Math.hypot(sgd.end[0] - sgdRef[0], sgd.end[1] - sgdRef[1])).toBeLessThan(1e-4);
    expect(sgd.sharpness).toBeGreaterThan(40);
    expect(sam.sharpness).toBeCloseTo(1.5, 3);
    // The loss curve is f at every position, float64.
    expect(sam.losses[0]).toBe(twoMinima.value(...twoMinima.start));
  });
});

describe('presets and the composer', () => {
  it('the menu has SAM, ASAM, RWP, LookSAM and SGD (and more), each a working optimizer', async () => {
    const ids = PRESETS.map((p) => p.id);
    for (const id of ['sam', 'asam', 'rwp', 'looksam', 'sgd']) expect(ids).toContain(id);
    for (const preset of PRESETS) {
      const before = tf.memory().numTensors;
      const result = await runOn(twoMinima, preset.create({ ...settings, rho: 0.2, steps: 6 }), { label: preset.label, start: twoMinima.start, steps: 6 });
      expect(result.trajectory, preset.id).toHaveLength(7);
      expect(result.end.every(Number.isFinite), preset.id).toBe(true);
      expect(tf.memory().numTensors, `${preset.id} leaks`).toBe(before);
    }
  });

  it("the composer's default (gradient + always + adversarial, no averager) is the SAM preset, bit for bit", async () => {
    const options = { ...settings, steps: 20 };
    const a = await runOn(twoMinima, compose({ ...DEFAULT_COMPOSITION, rho: 1.1 }, options), { label: 'a', start: twoMinima.start, steps: 20 });
    const b = await runOn(twoMinima, presetById('sam').create(options), { label: 'b', start: twoMinima.start, steps: 20 });
    expect(a.trajectory).toEqual(b.trajectory);
  });

  it('ρ = 0 makes SAM plain SGD (bit for bit)', async () => {
    const options = { ...settings, rho: 0, steps: 20 };
    const a = await runOn(twoMinima, presetById('sam').create(options), { label: 'a', start: twoMinima.start, steps: 20 });
    const b = await runOn(twoMinima, presetById('sgd').create(options), { label: 'b', start: twoMinima.start, steps: 20 });
    expect(a.trajectory).toEqual(b.trajectory);
  });

  it('every composition of the menus builds and runs (each perturbation, schedule, combiner, averager)', async () => {
    const variants = [
      { perturbation: 'adaptive' },
      { perturbation: 'friendly' },
      { perturbation: 'gaussian', combiner: 'mix' },
      { schedule: 'everyK', k: 3 },
      { schedule: 'randomly', p: 0.5 },
      { averager: 'ema' },
      { averager: 'swa' },
    ] as const;
    for (const variant of variants) {
      const result = await runOn(twoMinima, compose({ ...DEFAULT_COMPOSITION, ...variant }, { ...settings, steps: 8 }), { label: 'c', start: twoMinima.start, steps: 8 });
      expect(result.end.every(Number.isFinite), JSON.stringify(variant)).toBe(true);
      expect(result.averaged).toBe('averager' in variant);
    }
  });

  it('an averager: the result is the averaged point, not the last position', async () => {
    const result = await runOn(twoMinima, compose({ ...DEFAULT_COMPOSITION, averager: 'swa', rho: 0 }, { ...settings, steps: 10 }), { label: 'swa', start: twoMinima.start, steps: 10 });
    // SWA from step 5 (start = steps / 2): the mean of the positions it averaged, in float64 from the trajectory.
    const averaged = result.trajectory.slice(-5);
    const mean = [0, 1].map((i) => averaged.reduce((s, p) => s + p[i]!, 0) / averaged.length);
    expect(result.end[0]).toBeCloseTo(mean[0]!, 5);
    expect(result.end[1]).toBeCloseTo(mean[1]!, 5);
  });
});
