import { describe, expect, it } from 'vitest';
import { isNode, isNotInstalled, resolveWasmDirectory, shortMessage } from '../src/environment.js';

const code = (message: string, errorCode?: string) => Object.assign(new Error(message), errorCode ? { code: errorCode } : {});

describe('isNotInstalled', () => {
  it.each([
    // Node ESM, Node CJS/webpack, vite/vitest
    [code("Cannot find package '@tensorflow/tfjs-node' imported from /app/index.js", 'ERR_MODULE_NOT_FOUND'), '@tensorflow/tfjs-node', true],
    [code("Cannot find module '@tensorflow/tfjs-node'\nRequire stack:\n- /app/index.js", 'MODULE_NOT_FOUND'), '@tensorflow/tfjs-node', true],
    [code('Could not resolve "@tensorflow/tfjs-node" imported by "@flatmin/backend".'), '@tensorflow/tfjs-node', true],
    // tfjs-node-gpu missing is not tfjs-node missing, and vice versa
    [code("Cannot find package '@tensorflow/tfjs-node-gpu' imported from /app/index.js", 'ERR_MODULE_NOT_FOUND'), '@tensorflow/tfjs-node', false],
    // present, but something inside it is missing
    [code("Cannot find module '/app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node'", 'MODULE_NOT_FOUND'), '@tensorflow/tfjs-node', false],
    [code("Cannot find package '@tensorflow/tfjs' imported from /app/node_modules/@tensorflow/tfjs-node/dist/index.js", 'ERR_MODULE_NOT_FOUND'), '@tensorflow/tfjs-node', false],
    // a crash is not "not installed"
    [code('libtensorflow.so.2: cannot open shared object file'), '@tensorflow/tfjs-node', false],
    ['a string', '@tensorflow/tfjs-node', false],
  ])('%s for %s → %s', (error, specifier, expected) => {
    expect(isNotInstalled(error, specifier)).toBe(expected);
  });
});

describe('helpers', () => {
  it('shortMessage keeps the first non-empty line, shortened', () => {
    expect(shortMessage(new Error('\nfirst line\nsecond'))).toBe('first line');
    expect(shortMessage({ message: 'x'.repeat(500) }, 10)).toBe(`${'x'.repeat(9)}…`);
    expect(shortMessage(42)).toBe('42');
  });

  it('detects Node and finds the wasm binaries', async () => {
    expect(isNode()).toBe(true);
    const directory = await resolveWasmDirectory();
    expect(directory).toMatch(/@tensorflow[\\/]tfjs-backend-wasm[\\/]dist[\\/]$/);
  });
});
