// What the kit's reductions cost against the tfjs forms they replace, on one 784×256 kernel (the
// benchmark MLP's first layer): per-filter sums (tf.sum over the leading axis against `filterSums`,
// a product with a row of ones) and a dot product (a 1×n·n×1 product and Σ(a ⊙ b) against
// `flatDot`, the cpu backend's own loop); and the noise draw of all 269,322 parameters. Median ms of
// 7 repetitions of 20 calls each, after a warm-up. Then the element-wise helpers against tfjs' ops,
// once tfjs' shared binary loop has seen add, sub, mul and div (as it has in any training step).
// From bench/, after `pnpm build`:
//   node scripts/helper-cost.mjs [cpu|wasm]

import { elementwise, filterSums, flatDot } from '@flatmin/core/kit';
import { fillNormal } from '@flatmin/perturb-noise';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../dist/setup.js';

const backend = process.argv[2] ?? 'cpu';
await selectBackend(backend);
const x = tf.randomNormal([784, 256], 0, 1, 'float32', 1);
const y = tf.randomNormal([784, 256], 0, 1, 'float32', 2);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const time = (label, f) => {
  for (let i = 0; i < 5; i++) tf.dispose(f());
  const runs = [];
  for (let r = 0; r < 7; r++) {
    const start = performance.now();
    for (let i = 0; i < 20; i++) tf.dispose(f());
    runs.push((performance.now() - start) / 20);
  }
  console.log(`${label.padEnd(46)} ${median(runs).toFixed(3)} ms`);
};
console.log(`backend ${tf.getBackend()}, a [784, 256] kernel`);
time('tf.sum(x, 0, true)', () => tf.sum(x, 0, true));
time('filterSums(x) (kit)', () => tf.tidy(() => filterSums(x)));
time('matMul(x as 1×n, y as n×1)', () => tf.tidy(() => tf.matMul(tf.reshape(x, [1, x.size]), tf.reshape(y, [y.size, 1]))));
time('tf.sum(tf.mul(x, y))', () => tf.tidy(() => tf.sum(tf.mul(x, y))));
time('flatDot(x, y) (kit)', () => tf.tidy(() => flatDot(x, y)));
const z = new Float32Array(269322);
time('fillNormal of 269,322 values (perturb-noise)', () => {
  fillNormal(z, 7);
  return [];
});
tf.dispose([tf.add(x, y), tf.sub(x, y), tf.mul(x, y), tf.div(x, y)]);
const s = tf.scalar(0.7);
time('tf.mul(x, y)', () => tf.mul(x, y));
time('elementwise.mul(x, y) (kit)', () => elementwise.mul(x, y));
time('tf.mul(x, s), s a scalar', () => tf.mul(x, s));
time('elementwise.mul(x, s) (kit)', () => elementwise.mul(x, s));
time('tf.add(x, tf.mul(s, y))', () => tf.tidy(() => tf.add(x, tf.mul(s, y))));
time('elementwise.axpy(x, s, y) (kit)', () => elementwise.axpy(x, s, y));
