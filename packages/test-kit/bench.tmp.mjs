import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
const require = createRequire('/work/main/packages/backend/x.js');
await import(require.resolve('@tensorflow/tfjs-backend-wasm'));
tf.env().set('IS_TEST', true);
for (const [n, i, o] of [[32, 784, 128], [64, 784, 256], [256, 1024, 1024]]) for (const b of ['cpu', 'wasm']) {
  await tf.setBackend(b);
  const x = tf.randomNormal([n, i]); const w = tf.variable(tf.randomNormal([i, o]));
  const step = () => tf.tidy(() => { const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.relu(tf.matMul(x, w))))); return grads[w.name].dataSync(); });
  step(); step(); const t = performance.now(); for (let k = 0; k < 20; k++) step();
  console.log(n, i, o, b, ((performance.now() - t) / 20).toFixed(2), 'ms/step');
}
