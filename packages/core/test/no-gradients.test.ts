// In Node, '@tensorflow/tfjs-core' alone registers no gradients: the error must say what to import.
// A fresh process (no tfjs-layers loaded) runs the BUILT package, as a user's script would.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');

it('explains that gradients come from @tensorflow/tfjs or tfjs-layers when none is registered', () => {
  expect(existsSync(join(packageDir, 'dist', 'index.js')), 'build @flatmin/core first (pnpm build)').toBe(true);
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    import '@tensorflow/tfjs-backend-cpu';
    import { sharpnessAware } from './dist/index.js';
    import { normalizeGlobal } from './dist/kit.js';
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
    const w = tf.variable(tf.ones([2, 2]));
    const x = tf.ones([3, 2]);
    const perturbation = { kind: 'perturbation', name: 'p', config: {}, rho: 0.1, needsGradient: true,
      compute: ({ grads, rho, normEpsilon }) => ({ epsilon: normalizeGlobal(grads, rho, normEpsilon) }) };
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation });
    try {
      optimizer.minimize(() => tf.sum(tf.matMul(x, w)));
      console.log('NO ERROR');
    } catch (error) {
      console.log(error.name + ': ' + error.message);
    }
  `;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir, encoding: 'utf8' });
  expect(output).toContain('FlatminError');
  expect(output).toMatch(/gradient function not found for [A-Za-z]+\./);
  expect(output).toContain("import '@tensorflow/tfjs' or '@tensorflow/tfjs-layers'");
});
