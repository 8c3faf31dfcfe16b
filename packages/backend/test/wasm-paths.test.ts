// How useBestBackend applies `setWasmPaths`. The wasm module is real; its `setWasmPaths` is a spy,
// and the tests keep the backend uninitialized (an initialized wasm backend ignores paths).
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ModuleImporter, useBestBackend } from '../src/index.js';

const specifier = '@tensorflow/tfjs-backend-wasm';
const real = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>; // registers 'wasm'
const realEntry = tf.engine().registryFactory['wasm']!;

afterEach(async () => {
  vi.restoreAllMocks();
  tf.engine().registryFactory['wasm'] = realEntry;
  await tf.setBackend('cpu');
});

/** As if the package were not imported yet: importing it registers 'wasm' and yields a module whose setWasmPaths is `spy`. */
function importerWith(spy: (path: string) => void): ModuleImporter {
  delete tf.engine().registryFactory['wasm'];
  return async (name) => {
    if (name !== specifier) throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
    tf.engine().registryFactory['wasm'] = realEntry;
    return { ...real, setWasmPaths: spy };
  };
}

// The refusal's message is fixed: the reason quotes it, and the path (which depends on where the
// checkout lives, and may be long) must not change what the reason says.
const refuse = vi.fn((_path: string) => {
  throw new Error('refused');
});

describe('wasmPaths', () => {
  it('by default, in Node, points setWasmPaths at the package dist folder', async () => {
    refuse.mockClear();
    const choice = await useBestBackend({ order: ['wasm', 'cpu'], log: false, importModule: importerWith(refuse) });
    expect(refuse).toHaveBeenCalledTimes(1);
    const path = refuse.mock.calls[0]![0];
    expect(path).toMatch(/@tensorflow[\\/]tfjs-backend-wasm[\\/]dist[\\/]$/);
    expect(choice.name).toBe('cpu');
    expect(choice.tried[0]).toEqual({
      backend: 'wasm',
      module: specifier,
      ok: false,
      reason: `setWasmPaths(${JSON.stringify(path)}) failed (refused)`,
    });
  });

  it('passes an explicit string as is', async () => {
    refuse.mockClear();
    const choice = await useBestBackend({ order: ['wasm', 'cpu'], log: false, wasmPaths: '/srv/wasm/', importModule: importerWith(refuse) });
    expect(refuse).toHaveBeenCalledWith('/srv/wasm/');
    expect(choice.tried[0]?.reason).toBe('setWasmPaths("/srv/wasm/") failed (refused)');
  });

  it('an explicit string is not applied, with a warning, when the application registered wasm itself', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined); // tfjs reports the failed init
    const importModule = vi.fn(importerWith(refuse));
    // Registered by "the application", not initialized; its initialization fails so wasm stays uninitialized.
    tf.engine().registryFactory['wasm'] = {
      factory: () => {
        throw new Error('no wasm today');
      },
      priority: 2,
    };
    const choice = await useBestBackend({ order: ['wasm', 'cpu'], log: false, wasmPaths: '/srv/wasm/', importModule });
    expect(importModule).not.toHaveBeenCalled();
    expect(choice.name).toBe('cpu');
    expect(choice.warnings).toEqual([
      "option wasmPaths was not applied: the application registered 'wasm' before this call, so call setWasmPaths() from its own import of @tensorflow/tfjs-backend-wasm",
    ]);
    expect(choice.tried[0]?.reason).toBe("failed to initialize (tf.setBackend('wasm') returned false; tfjs logged the cause above)");
  });

  it('false never calls setWasmPaths (and plain Node finds the binaries itself)', async () => {
    const spy = vi.fn();
    const choice = await useBestBackend({ order: ['wasm'], log: false, wasmPaths: false, importModule: importerWith(spy) });
    expect(spy).not.toHaveBeenCalled();
    expect(choice.name).toBe('wasm');
  });
});
