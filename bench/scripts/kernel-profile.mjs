// Where a preset's step spends its kernel time, op by op, against SGD's step: `tf.profile` of
// `steps` steps after warm-up, kernel milliseconds summed per kernel name. A step's cost beyond its
// passes shows up here as the kernels SGD does not run. From bench/, after `pnpm build`:
//   node scripts/kernel-profile.mjs [wasm|cpu] [method,method,...] [steps] [reference]
// With a reference (a method of the list, say sam), each kernel's calls and time are compared with
// the reference's instead of with twice SGD's.
import * as tf from '@tensorflow/tfjs-core';
import { buildBenchVariants } from 'flatmin/cli';
import { selectBackend } from '../dist/setup.js';

const backend = process.argv[2] ?? 'wasm';
const methods = (process.argv[3] ?? 'sam').split(',');
const steps = Number(process.argv[4] ?? 5);
const reference = process.argv[5];
await selectBackend(backend);
const xs = tf.randomUniform([128, 784], 0, 1, 'float32', 1);
const labels = tf.randomUniform([128], 0, 10, 'int32', 2);
const ys = tf.cast(tf.oneHot(labels, 10), "float32");
const variants = buildBenchVariants(methods, { xs, ys, labels, xv: xs, yv: ys }, { seed: 1, hidden: 256, lr: 0.1, totalSteps: 1000 });
const byKernel = async (variant) => {
  for (let i = 0; i < 3; i++) variant.step();
  const info = await tf.profile(() => {
    for (let i = 0; i < steps; i++) variant.step();
  });
  const sums = new Map();
  for (const k of info.kernels) {
    const ms = await k.kernelTimeMs;
    const entry = sums.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += (typeof ms === 'number' ? ms : 0) / steps;
    entry.calls += 1 / steps;
    sums.set(k.name, entry);
  }
  return sums;
};
const profiles = [];
for (const variant of variants) profiles.push([variant.method, await byKernel(variant)]);
const total = (m) => [...m.values()].reduce((s, e) => s + e.ms, 0);
const sgd = profiles[0][1];
const against = reference === undefined ? null : profiles.find(([method]) => method === reference)?.[1];
const factor = against === undefined || against === null ? 2 : 1;
const base = against ?? sgd;
console.log(`SGD: ${total(sgd).toFixed(2)} kernel ms/step; each kernel against ${against ? reference : '2 × SGD'}`);
for (const [method, sums] of profiles.slice(1)) {
  const variant = { method };
  console.log(`\n${variant.method}: ${total(sums).toFixed(2)} kernel ms/step (${(total(sums) / total(sgd)).toFixed(3)} × SGD)`);
  const rows = [...sums.entries()].map(([name, e]) => [name, e, base.get(name) ?? { ms: 0, calls: 0 }]).sort((a, b) => b[1].ms - factor * b[2].ms - (a[1].ms - factor * a[2].ms));
  for (const [name, e, b] of rows.slice(0, 14)) console.log(`  ${name.padEnd(22)} ${e.ms.toFixed(3).padStart(8)} ms  ${e.calls.toFixed(1).padStart(5)} calls   (ref ${b.ms.toFixed(3)} ms, ${b.calls.toFixed(1)} calls; over ${(e.ms - factor * b.ms).toFixed(3)})`);
}
for (const v of variants) v.dispose();
