// The injectable importer simulates what cannot be installed here: tfjs-node present, broken,
// built against another tfjs-core, or registering its backend somewhere else.
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { type ModuleImporter, NoBackendError, useBestBackend } from '../src/index.js';

afterEach(async () => {
  await tf.setBackend('cpu');
  if (tf.engine().registryFactory['tensorflow'] != null) tf.removeBackend('tensorflow');
});

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /app/index.js`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

/** A stand-in for tfjs-node: registers a 'tensorflow' backend (a cpu backend in disguise) as the real one does. */
function fakeTfjsNode(packageName: string, overrides: Record<string, unknown> = {}): unknown {
  tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { packageName }), 3);
  return { version: { 'tfjs-core': tf.version_core, 'tfjs-node': '4.22.0' }, engine: tf.engine, ...overrides };
}

/** Real imports, except for the tensorflow packages, which `modules` decides. */
function importer(modules: Record<string, () => unknown>): ModuleImporter {
  return async (specifier) => {
    const make = modules[specifier];
    if (make !== undefined) return make();
    if (specifier.startsWith('@tensorflow/tfjs-node')) throw notFound(specifier);
    return import(/* @vite-ignore */ specifier);
  };
}

describe('the tensorflow backend (simulated tfjs-node)', () => {
  it('uses tfjs-node when tfjs-node-gpu is not installed', async () => {
    const lines: string[] = [];
    const choice = await useBestBackend({
      log: (line) => lines.push(line),
      importModule: importer({ '@tensorflow/tfjs-node': () => fakeTfjsNode('@tensorflow/tfjs-node') }),
    });
    expect(choice.name).toBe('tensorflow');
    expect(choice.module).toBe('@tensorflow/tfjs-node');
    expect(choice.tried).toEqual([
      { backend: 'tensorflow', module: '@tensorflow/tfjs-node-gpu', ok: false, reason: 'not installed' },
      { backend: 'tensorflow', module: '@tensorflow/tfjs-node', ok: true },
    ]);
    expect(lines).toEqual([
      "flatmin: using backend 'tensorflow' via @tensorflow/tfjs-node (tried tensorflow: @tensorflow/tfjs-node-gpu not installed)",
    ]);
  });

  it('uses tfjs-node-gpu first when both are installed', async () => {
    const choice = await useBestBackend({
      log: false,
      importModule: importer({
        '@tensorflow/tfjs-node-gpu': () => fakeTfjsNode('@tensorflow/tfjs-node-gpu'),
        '@tensorflow/tfjs-node': () => {
          throw new Error('must not be imported');
        },
      }),
    });
    expect(choice.module).toBe('@tensorflow/tfjs-node-gpu');
    expect(choice.tried).toEqual([{ backend: 'tensorflow', module: '@tensorflow/tfjs-node-gpu', ok: true }]);
  });

  it('a tfjs-node-gpu that is installed but broken (no CUDA) is reported and tfjs-node is used', async () => {
    const choice = await useBestBackend({
      log: false,
      importModule: importer({
        '@tensorflow/tfjs-node-gpu': () => {
          throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory\n    at Module._extensions..node');
        },
        '@tensorflow/tfjs-node': () => fakeTfjsNode('@tensorflow/tfjs-node'),
      }),
    });
    expect(choice.name).toBe('tensorflow');
    expect(choice.tried[0]).toEqual({
      backend: 'tensorflow',
      module: '@tensorflow/tfjs-node-gpu',
      ok: false,
      reason: 'failed to load (libcudart.so.11.0: cannot open shared object file: No such file or directory)',
    });
  });

  it('a missing native binding inside tfjs-node is "failed to load", not "not installed"', async () => {
    const choice = await useBestBackend({
      log: false,
      importModule: importer({
        '@tensorflow/tfjs-node': () => {
          throw Object.assign(
            new Error("Cannot find module '/app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node'"),
            { code: 'MODULE_NOT_FOUND' },
          );
        },
      }),
    });
    expect(choice.name).toBe('wasm');
    expect(choice.tried[1]?.reason).toMatch(/^failed to load \(Cannot find module '.*tfjs_binding\.node'\)$/);
  });

  it('a tfjs-node that registers its backend in another tfjs-core is reported, not silently used', async () => {
    const choice = await useBestBackend({
      log: false,
      // Registers nothing in our engine, as a tfjs-node bundled with its own tfjs-core would.
      importModule: importer({ '@tensorflow/tfjs-node': () => ({ version: { 'tfjs-core': '4.21.0' } }) }),
    });
    expect(choice.name).toBe('wasm');
    expect(choice.tried[1]).toEqual({
      backend: 'tensorflow',
      module: '@tensorflow/tfjs-node',
      ok: false,
      reason: `loaded, but registered its 'tensorflow' backend in another @tensorflow/tfjs-core (4.21.0) than this app's (${tf.version_core}); install one deduplicated @tensorflow/tfjs-core`,
    });
  });

  it('a tfjs-node built against another tfjs-core version is reported and skipped', async () => {
    const choice = await useBestBackend({
      order: ['tensorflow', 'cpu'],
      log: false,
      importModule: importer({
        '@tensorflow/tfjs-node': () => fakeTfjsNode('@tensorflow/tfjs-node', { version: { 'tfjs-core': '4.20.0' } }),
      }),
    });
    expect(choice.name).toBe('cpu');
    expect(choice.tried[1]?.reason).toBe(
      `uses @tensorflow/tfjs-core 4.20.0 but this app uses ${tf.version_core}; install the same version so there is one copy`,
    );
  });

  it('a second copy of the same tfjs-core version is used, with a warning', async () => {
    const lines: string[] = [];
    const choice = await useBestBackend({
      log: (line) => lines.push(line),
      importModule: importer({
        '@tensorflow/tfjs-node': () => fakeTfjsNode('@tensorflow/tfjs-node', { engine: () => tf.engine() }),
      }),
    });
    expect(choice.name).toBe('tensorflow');
    expect(choice.warnings).toHaveLength(1);
    expect(choice.warnings[0]).toMatch(/second copy of @tensorflow\/tfjs-core/);
    expect(lines[0]).toContain('[warning: the tfjs-node package loads a second copy');
  });

  it('an already registered tensorflow backend is used without importing anything', async () => {
    fakeTfjsNode('@tensorflow/tfjs-node-gpu');
    const choice = await useBestBackend({
      log: false,
      importModule: () => Promise.reject(new Error('must not be called')),
    });
    expect(choice).toEqual({
      name: 'tensorflow',
      module: '@tensorflow/tfjs-node-gpu',
      tried: [{ backend: 'tensorflow', module: '@tensorflow/tfjs-node-gpu', ok: true }],
      warnings: [],
    });
  });
});

/**
 * Run `body` while the engine does not list `names` as registered, as if their packages had never
 * been imported (the modules stay cached in this process, so a real re-import would not register
 * them again). Initialized instances are kept, so nothing is disposed.
 */
async function asIfNotImported(names: string[], body: () => Promise<void>): Promise<void> {
  const factories = tf.engine().registryFactory;
  const saved = names.map((name) => [name, factories[name]] as const);
  for (const name of names) delete factories[name];
  try {
    await body();
  } finally {
    for (const [name, entry] of saved) if (entry !== undefined) factories[name] = entry;
  }
}

describe('wasm and cpu through the importer', () => {
  it('a broken wasm package falls through to cpu', async () => {
    await asIfNotImported(['wasm'], async () => {
      const choice = await useBestBackend({
        log: false,
        importModule: importer({
          '@tensorflow/tfjs-backend-wasm': () => {
            throw new SyntaxError('Unexpected token');
          },
        }),
      });
      expect(choice.name).toBe('cpu');
      expect(choice.tried.map((entry) => `${entry.backend} ${entry.ok} ${entry.reason ?? ''}`)).toEqual([
        'tensorflow false not installed',
        'tensorflow false not installed',
        'wasm false failed to load (Unexpected token)',
        'cpu true ',
      ]);
    });
  });

  it('a backend package that loads but registers nothing in this tfjs-core is reported', async () => {
    await asIfNotImported(['wasm'], async () => {
      const choice = await useBestBackend({
        order: ['wasm', 'cpu'],
        log: false,
        importModule: importer({ '@tensorflow/tfjs-backend-wasm': () => ({}) }),
      });
      expect(choice.name).toBe('cpu');
      expect(choice.tried[0]?.reason).toMatch(/^loaded, but 'wasm' is not registered in this @tensorflow\/tfjs-core/);
    });
  });

  it('nothing installed: the error lists every attempt and the previous backend stays active', async () => {
    await asIfNotImported(['wasm', 'cpu'], async () => {
      const error = await useBestBackend({
        order: ['tensorflow', 'wasm', 'cpu'],
        log: false,
        importModule: async (specifier) => {
          throw notFound(specifier);
        },
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NoBackendError);
      expect((error as NoBackendError).message).toContain(
        '(tried tensorflow: @tensorflow/tfjs-node-gpu not installed, @tensorflow/tfjs-node not installed; ' +
          'wasm: @tensorflow/tfjs-backend-wasm not installed; cpu: @tensorflow/tfjs-backend-cpu not installed)',
      );
      expect((error as NoBackendError).tried).toHaveLength(4);
    });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('after a failed tensorflow attempt that switched backends, the previous backend is restored', async () => {
    await useBestBackend({ order: ['wasm'], log: false }); // previous = wasm
    const error = await useBestBackend({
      order: ['tensorflow'],
      log: false,
      // registers and activates 'tensorflow' (as tfjs-node does on import), but with another core version
      importModule: importer({
        '@tensorflow/tfjs-node': async () => {
          const module = fakeTfjsNode('@tensorflow/tfjs-node', { version: { 'tfjs-core': '4.0.0' } });
          await tf.setBackend('tensorflow');
          return module;
        },
      }),
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NoBackendError);
    expect(tf.getBackend()).toBe('wasm');
  });
});
