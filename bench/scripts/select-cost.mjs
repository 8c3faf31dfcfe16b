// What the non-finite guard's element-wise choice between new and old values costs on the
// benchmark MLP's parameter shapes (784×256, 256, 256×256, 256, 256×10, 10): a multiply by the
// gate, isFinite and the Select kernel per tensor, the route the guard took before the buffer pick;
// and its parts; and the buffer pick that replaced it (flatmin's FlatminPick kernel, registered by
// the first guarded step on cpu and wasm). The mean of 200 runs after 20 warm-up runs. From bench/, after `pnpm build`:
//   node scripts/select-cost.mjs [wasm|cpu]
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { selectBackend } from '../dist/setup.js';

await selectBackend(process.argv[2] ?? 'wasm');
const shapes = [[784, 256], [256], [256, 256], [256], [256, 10], [10]];
const next = shapes.map((shape) => tf.randomNormal(shape));
const previous = shapes.map((shape) => tf.randomNormal(shape));
const gate = tf.scalar(1);
const ok = tf.scalar(1);
// One guarded step registers the pick kernel for this backend.
const w = tf.variable(tf.zeros([2]));
sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient() }).minimize(() => tf.sum(tf.square(tf.sub(w, 1))), false, [w]);
const trues = shapes.map((shape) => tf.ones(shape, 'bool'));
const ops = {
  'mul by the gate': () => next.map((t) => tf.mul(t, gate)),
  isFinite: () => next.map((t) => tf.isFinite(t)),
  Select: () => next.map((t, i) => tf.engine().runKernel('Select', { condition: trues[i], t, e: previous[i] })),
  'the three (the old route)': () =>
    next.map((t, i) => tf.engine().runKernel('Select', { condition: tf.isFinite(tf.mul(t, gate)), t, e: previous[i] })),
  'FlatminPick (the buffer pick)': () => next.map((t, i) => tf.engine().runKernel('FlatminPick', { ok, t, e: previous[i] })),
  'Σ of squares (telemetry, guard)': () => next.map((t) => tf.sum(tf.square(t))),
};
const runs = 200;
for (const [label, op] of Object.entries(ops)) {
  for (let i = 0; i < 20; i++) tf.tidy(() => op().forEach((t) => t.dataSync()));
  const start = performance.now();
  for (let i = 0; i < runs; i++) tf.tidy(() => { const out = op(); if (i === runs - 1) out.forEach((t) => t.dataSync()); });
  console.log(`${label.padEnd(34)} ${((performance.now() - start) / runs).toFixed(3)} ms`);
}
