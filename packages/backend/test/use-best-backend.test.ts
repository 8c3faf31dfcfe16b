import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type BackendConfigError, NoBackendError, useBestBackend } from '../src/index.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await tf.setBackend('cpu');
});

describe('useBestBackend with the default order', () => {
  it('picks wasm here (tfjs-node is not installed) and reports both tensorflow modules as not installed', async () => {
    const lines: string[] = [];
    const choice = await useBestBackend({ log: (line) => lines.push(line) });

    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.module).toBe('@tensorflow/tfjs-backend-wasm');
    expect(choice.warnings).toEqual([]);
    expect(choice.tried).toEqual([
      { backend: 'tensorflow', module: '@tensorflow/tfjs-node-gpu', ok: false, reason: 'not installed' },
      { backend: 'tensorflow', module: '@tensorflow/tfjs-node', ok: false, reason: 'not installed' },
      { backend: 'wasm', module: '@tensorflow/tfjs-backend-wasm', ok: true },
    ]);
    expect(lines).toEqual([
      "flatmin: using backend 'wasm' (tried tensorflow: @tensorflow/tfjs-node-gpu not installed, @tensorflow/tfjs-node not installed)",
    ]);
  });

  it('prints the line with console.log by default and nothing with log: false', async () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await useBestBackend();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]?.[0]).toMatch(/^flatmin: using backend 'wasm' \(tried tensorflow: /);

    spy.mockClear();
    await useBestBackend({ log: false });
    expect(spy).not.toHaveBeenCalled();
  });
});

describe('useBestBackend with an explicit order', () => {
  it("order: ['cpu'] picks cpu (already registered: nothing is imported)", async () => {
    const importModule = vi.fn(async (specifier: string) => import(/* @vite-ignore */ specifier));
    const lines: string[] = [];
    const choice = await useBestBackend({ order: ['cpu'], log: (line) => lines.push(line), importModule });
    expect(choice).toEqual({
      name: 'cpu',
      module: '@tensorflow/tfjs-backend-cpu',
      tried: [{ backend: 'cpu', module: '@tensorflow/tfjs-backend-cpu', ok: true }],
      warnings: [],
    });
    expect(importModule).not.toHaveBeenCalled();
    expect(lines).toEqual(["flatmin: using backend 'cpu'"]);
  });

  it("order: ['cpu', 'wasm'] stops at cpu", async () => {
    const choice = await useBestBackend({ order: ['cpu', 'wasm'], log: false });
    expect(choice.name).toBe('cpu');
    expect(choice.tried).toHaveLength(1);
  });

  it("order: ['tensorflow'] alone throws a NoBackendError listing what was tried, and keeps the previous backend", async () => {
    expect(tf.getBackend()).toBe('cpu');
    const log = vi.fn();
    const attempt = useBestBackend({ order: ['tensorflow'], log });
    await expect(attempt).rejects.toBeInstanceOf(NoBackendError);
    const error = (await attempt.catch((caught: unknown) => caught)) as NoBackendError;
    expect(error.name).toBe('FlatminError');
    expect(error.message).toBe(
      'flatmin: no TensorFlow.js backend in order [tensorflow] could be used ' +
        '(tried tensorflow: @tensorflow/tfjs-node-gpu not installed, @tensorflow/tfjs-node not installed). ' +
        "Install @tensorflow/tfjs-backend-wasm or @tensorflow/tfjs-backend-cpu and add 'wasm' or 'cpu' to order.",
    );
    expect(error.tried.map((entry) => [entry.module, entry.ok, entry.reason])).toEqual([
      ['@tensorflow/tfjs-node-gpu', false, 'not installed'],
      ['@tensorflow/tfjs-node', false, 'not installed'],
    ]);
    expect(log).not.toHaveBeenCalled();
    expect(tf.getBackend()).toBe('cpu');
  });

  it("order: ['tensorflow', 'cpu'] falls back to cpu (the CNN-training order)", async () => {
    const choice = await useBestBackend({ order: ['tensorflow', 'cpu'], log: false });
    expect(choice.name).toBe('cpu');
    expect(choice.tried.map((entry) => entry.ok)).toEqual([false, false, true]);
  });

  it('webgl and webgpu are tried only when registered, with a reason otherwise', async () => {
    const lines: string[] = [];
    const choice = await useBestBackend({ order: ['webgpu', 'webgl', 'cpu'], log: (line) => lines.push(line) });
    expect(choice.name).toBe('cpu');
    expect(choice.tried.slice(0, 2)).toEqual([
      {
        backend: 'webgpu',
        module: '@tensorflow/tfjs-backend-webgpu',
        ok: false,
        reason: "not registered (import '@tensorflow/tfjs-backend-webgpu' before calling useBestBackend)",
      },
      {
        backend: 'webgl',
        module: '@tensorflow/tfjs-backend-webgl',
        ok: false,
        reason: "not registered (import '@tensorflow/tfjs-backend-webgl' before calling useBestBackend)",
      },
    ]);
    expect(lines[0]).toBe(
      "flatmin: using backend 'cpu' (tried webgpu: @tensorflow/tfjs-backend-webgpu not registered (import '@tensorflow/tfjs-backend-webgpu' before calling useBestBackend); " +
        "webgl: @tensorflow/tfjs-backend-webgl not registered (import '@tensorflow/tfjs-backend-webgl' before calling useBestBackend))",
    );
  });

  it('concurrent calls run one after the other and agree with the final backend', async () => {
    const [first, second] = await Promise.all([
      useBestBackend({ order: ['wasm'], log: false }),
      useBestBackend({ order: ['cpu'], log: false }),
    ]);
    expect(first.name).toBe('wasm');
    expect(second.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('useBestBackend option validation', () => {
  async function configError(options: unknown): Promise<BackendConfigError> {
    const error = await useBestBackend(options as never).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('FlatminConfigError');
    return error as BackendConfigError;
  }

  it('a bad order entry names the key order, the value and the valid values', async () => {
    const error = await configError({ order: ['tensorflow', 'gpu'] });
    expect(error.key).toBe('order');
    expect(error.value).toBe('gpu');
    expect(error.expected).toBe("each entry one of 'tensorflow', 'wasm', 'cpu', 'webgl', 'webgpu'");
    expect(error.message).toBe(
      `useBestBackend: invalid config 'order' = "gpu"; expected each entry one of 'tensorflow', 'wasm', 'cpu', 'webgl', 'webgpu'. (The bad entry is order[1].)`,
    );
    expect(tf.getBackend()).toBe('cpu');
  });

  it.each([
    [{ order: [] }, 'order'],
    [{ order: 'wasm' }, 'order'],
    [{ order: ['cpu', 'cpu'] }, 'order'],
    [{ order: [42] }, 'order'],
    [{ log: 'yes' }, 'log'],
    [{ wasmPaths: 3 }, 'wasmPaths'],
    [{ wasmPaths: '' }, 'wasmPaths'],
    [{ importModule: 'import' }, 'importModule'],
    [{ ordre: ['cpu'] }, 'ordre'],
    ['cpu', 'options'],
  ])('rejects %j naming %s', async (options, key) => {
    const error = await configError(options);
    expect(error.key).toBe(key);
    expect(error.message).toContain(`'${key}'`);
  });

  it('an unknown key lists the known keys', async () => {
    const error = await configError({ ordre: ['cpu'] });
    expect(error.expected).toBe('no such key; known keys: order, log, wasmPaths, importModule');
  });
});
