// Where a preset's step spends its CPU time outside the matrix products, against two SGD steps:
// V8's sampling profiler (100 µs) around `steps` steps of each method after 5 warm-up steps, its
// self time split into the backend's matrix-product function (the one function that takes most of
// SGD's time: XNNPACK's kernel on wasm, `batchMatMul` on cpu) and everything else (the rest of
// tfjs, the step's own arithmetic, flatmin's kernels, the collector). "other − 2 × SGD other" is
// what a two-pass method spends beyond the non-product work of two plain steps: negative when its
// one update costs less than its extra ε work. The matrix products' time drifts with the machine
// from method to method (each is measured after the one before), so compare the "other" columns.
// From bench/, after `pnpm build`:
//   node scripts/step-profile.mjs [wasm|cpu] [method,method,...] [steps] [method to itemize]
import { Session } from 'node:inspector/promises';
import * as tf from '@tensorflow/tfjs-core';
import { buildBenchVariants } from 'flatmin/cli';
import { selectBackend } from '../dist/setup.js';

const backend = process.argv[2] ?? 'wasm';
const methods = (process.argv[3] ?? 'sam').split(',');
const steps = Number(process.argv[4] ?? 30);
const itemize = process.argv[5];
await selectBackend(backend);
const xs = tf.randomUniform([128, 784], 0, 1, 'float32', 1);
const labels = tf.randomUniform([128], 0, 10, 'int32', 2);
const ys = tf.cast(tf.oneHot(labels, 10), 'float32');
const variants = buildBenchVariants(methods, { xs, ys, labels, xv: xs, yv: ys }, { seed: 1, hidden: 256, lr: 0.1, totalSteps: 1000 });
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
const results = [];
for (const variant of variants) {
  for (let i = 0; i < 5; i++) variant.step();
  await session.post('Profiler.start');
  for (let i = 0; i < steps; i++) variant.step();
  const { profile } = await session.post('Profiler.stop');
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]).callFrame;
    const key = frame.url.startsWith('wasm') ? `${frame.url.split('/').pop()}:${frame.functionName}` : `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  results.push([variant.method, self]);
}
const perStep = (m, key) => (m.get(key) ?? 0) / steps / 1000;
const total = (m) => [...m.values()].reduce((a, b) => a + b, 0) / steps / 1000;
const sgd = results[0][1];
const products = [...sgd.entries()].sort((a, b) => b[1] - a[1])[0][0];
const sgdOther = total(sgd) - perStep(sgd, products);
console.log(`${backend}: ms per step (profiled), the matrix products = ${products}`);
for (const [method, m] of results) {
  const other = total(m) - perStep(m, products);
  const over = method === 'SGD' ? '' : `  other − 2 × SGD other ${(other - 2 * sgdOther).toFixed(2)}`;
  console.log(`${method.padEnd(12)} total ${total(m).toFixed(1).padStart(7)}  products ${perStep(m, products).toFixed(1).padStart(7)}  other ${other.toFixed(2).padStart(6)}${over}`);
}
if (itemize !== undefined) {
  const m = results.find(([method]) => method === itemize)?.[1];
  if (m === undefined) throw new Error(`${itemize} is not among the methods`);
  console.log(`\n${itemize}: the functions with the most self time beyond two SGD steps'`);
  const rows = [...m.entries()].map(([key, us]) => [key, us / steps / 1000 - 2 * perStep(sgd, key)]).sort((a, b) => b[1] - a[1]);
  for (const [key, ms] of rows.slice(0, 20)) console.log(`  ${ms.toFixed(3).padStart(8)} ms  ${key}`);
}
for (const variant of variants) variant.dispose();
