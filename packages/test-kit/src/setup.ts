// Test setup shared by every package: the cpu backend (deterministic) with the
// gradients tfjs-layers registers. Tests that want another backend switch explicitly.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

// IS_TEST silences tfjs' "install tfjs-node" banner in test logs.
tf.env().set('IS_TEST', true);
await tf.setBackend('cpu');
await tf.ready();
