// The "built packages import from plain Node ESM" check: a separate `node` process (no
// vitest aliases, no TypeScript) imports @flatmin/core, @flatmin/perturb-gradient and
// @flatmin/backend through node_modules — so their package.json `exports` and `dist/` —
// and takes 2 SAM steps on a tiny model on the cpu backend.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const packages = ['@flatmin/core', '@flatmin/perturb-gradient', '@flatmin/backend'];

const script = `
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { useBestBackend } from '@flatmin/backend';

const choice = await useBestBackend({ order: ['cpu'], log: false });
if (choice.name !== 'cpu') throw new Error('expected cpu, got ' + choice.name);

const model = tfl.sequential({ layers: [
  tfl.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
  tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
] });
const xs = tf.randomNormal([16, 4], 0, 1, 'float32', 3);
const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3);
const variables = model.trainableWeights.map((w) => w.read());
const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), seed: 1 });
const losses = [];
for (let i = 0; i < 2; i++) {
  const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs)), true, variables);
  losses.push((await loss.data())[0]);
  loss.dispose();
}
const telemetry = await optimizer.telemetry();
if (!losses.every(Number.isFinite)) throw new Error('non-finite loss: ' + losses);
if (telemetry.steps !== 2) throw new Error('expected 2 steps, telemetry says ' + telemetry.steps);
optimizer.dispose();
console.log(JSON.stringify({ backend: choice.name, losses, steps: telemetry.steps }));
`;

describe('built packages from plain Node ESM', () => {
  it('imports the dist of core, perturb-gradient and backend and runs 2 SAM steps on cpu', async () => {
    const require = createRequire(join(exampleDir, 'package.json'));
    for (const name of packages) {
      const entry = join(dirname(require.resolve(`${name}/package.json`)), 'dist', 'index.js');
      expect(existsSync(entry), `${entry} is missing: build first (pnpm turbo run build --filter=@flatmin/example-mnist...)`).toBe(true);
    }
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: exampleDir,
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { backend: string; losses: number[]; steps: number };
    expect(result.backend).toBe('cpu');
    expect(result.steps).toBe(2);
    expect(result.losses).toHaveLength(2);
  });
});
