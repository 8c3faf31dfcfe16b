/**
 * The page's tfjs backend: WebGL when this browser can create it, else the CPU backend.
 * `?backend=cpu` (or `webgl`) in the address forces one.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';

/** Pick and initialize the backend; returns its name. */
export async function chooseBackend(requested = new URLSearchParams(location.search).get('backend')): Promise<string> {
  const order = requested ? [requested] : ['webgl', 'cpu'];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // try the next one
    }
  }
  await tf.setBackend('cpu');
  return tf.getBackend();
}
