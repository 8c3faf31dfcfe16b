// The built package, imported by name from plain Node ESM (no vitest transform, no aliases):
// this is how users load it. turbo runs `build` before `test`; run the build first by hand.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(packageDir, 'dist', 'index.js'));

const script = `
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, useBestBackend } from '@flatmin/backend';
const lines = [];
const choice = await useBestBackend({ log: (line) => lines.push(line) });
const product = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0];
let orderError;
try { await useBestBackend({ order: ['gpu'] }); } catch (error) { orderError = { name: error.name, key: error.key }; }
console.log(JSON.stringify({ choice, lines, product, description: describeBackend(), orderError }));
`;

it('dist works from plain Node ESM: picks wasm and computes on it', async () => {
  expect(built, 'build @flatmin/backend first (pnpm build; turbo does it before test)').toBe(true);
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(result.choice.name).toBe('wasm');
  expect(result.lines).toEqual([
    "flatmin: using backend 'wasm' (tried tensorflow: @tensorflow/tfjs-node-gpu not installed, @tensorflow/tfjs-node not installed)",
  ]);
  expect(result.product).toBe(11);
  expect(result.description).toEqual({ name: 'wasm', isNode: true, threads: 1 });
  expect(result.orderError).toEqual({ name: 'FlatminConfigError', key: 'order' });
});
