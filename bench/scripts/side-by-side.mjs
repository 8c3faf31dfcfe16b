// A quick side-by-side check of the step's overhead, in blocks of 4 steps (so not for LookSAM/RST,
// whose 5-step cycle a 4-step block cuts): SGD, SAM by hand, and sharpnessAware variants,
// interleaved in a rotating order; medians of the per-round wall and CPU-time ratios to SGD.
// After `pnpm build` (bench/dist), from bench/:
//   node scripts/side-by-side.mjs [wasm|cpu] [rounds] [variant,variant,...]
// Variants: hand, bare (no guard, no telemetry), noGuard, noTel, default, one_bare and one_default
// (a schedule that is never sharp: the plain one-pass step).
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { buildMlp, selectBackend, syntheticBatch, trainableVariables } from '../dist/setup.js';
import { handRolledSam } from '../dist/variants.js';

const backend = process.argv[2] ?? 'wasm';
const rounds = Number(process.argv[3] ?? 30);
const only = process.argv[4]?.split(',');
await selectBackend(backend);
const model = buildMlp(1);
const variables = trainableVariables(model);
const { xs, ys } = syntheticBatch(7);
const loss = () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs));
const never = { kind: 'schedule', name: 'never', config: {}, decide: () => ({ decision: { sharp: false } }) };
const sam = (options) => {
  const optimizer = sharpnessAware({ base: tf.train.sgd(0.01), perturbation: gradient({ rho: 0.05 }), seed: 1, ...options });
  return () => void optimizer.minimize(loss, false, variables);
};
const sgd = tf.train.sgd(0.01);
let variants = {
  sgd: () => void sgd.minimize(loss, false, variables),
  hand: handRolledSam(loss, variables, tf.train.sgd(0.01), 0.05),
  bare: sam({ onNonFinite: 'ignore', telemetry: false }),
  noGuard: sam({ onNonFinite: 'ignore' }),
  noTel: sam({ telemetry: false }),
  default: sam({}),
  one_bare: sam({ onNonFinite: 'ignore', telemetry: false, schedule: never }),
  one_default: sam({ schedule: never }),
};
if (only !== undefined) variants = Object.fromEntries(Object.entries(variants).filter(([key]) => key === 'sgd' || only.includes(key)));
const keys = Object.keys(variants);
const cpu = Object.fromEntries(keys.map((key) => [key, []]));
const wall = Object.fromEntries(keys.map((key) => [key, []]));
for (const key of keys) for (let i = 0; i < 3; i++) variants[key]();
const settle = () => variables[0].dataSync();
for (let round = 0; round < rounds; round++) {
  for (const key of keys.map((_, i) => keys[(i + round) % keys.length])) {
    settle();
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < 4; i++) variants[key]();
    settle();
    const used = process.cpuUsage(cpuStart);
    wall[key].push(performance.now() - start);
    cpu[key].push((used.user + used.system) / 1000);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const key of keys) {
  const wallRatio = median(wall[key].map((v, i) => v / wall.sgd[i]));
  const cpuRatio = median(cpu[key].map((v, i) => v / cpu.sgd[i]));
  console.log(`${key.padEnd(12)} ms/step ${(median(wall[key]) / 4).toFixed(2)}  wall × SGD ${wallRatio.toFixed(3)}  CPU × SGD ${cpuRatio.toFixed(3)}`);
}
