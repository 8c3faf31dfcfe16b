/**
 * Public types of `@flatmin/backend`.
 *
 * @module
 */

/**
 * A backend {@link useBestBackend} knows how to try.
 *
 * - `'tensorflow'`: native TensorFlow (libtensorflow) through `@tensorflow/tfjs-node-gpu` (CUDA)
 *   or `@tensorflow/tfjs-node` (CPU). Node.js only.
 * - `'wasm'`: `@tensorflow/tfjs-backend-wasm` (XNNPACK). Node.js and browsers. Fast for dense
 *   layers, but it has no `Conv2DBackpropFilter` kernel, so it cannot train convolutional networks.
 * - `'cpu'`: `@tensorflow/tfjs-backend-cpu`, plain JavaScript. Works everywhere, slowest.
 * - `'webgl'`, `'webgpu'`: browser GPU backends; used only if the application has already
 *   imported (registered) them.
 *
 * @example
 * ```ts
 * const order: BackendName[] = ['wasm', 'cpu'];
 * await useBestBackend({ order });
 * ```
 */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu' | 'webgl' | 'webgpu';

/**
 * Every valid {@link BackendName}, in no particular order of preference.
 *
 * @example
 * ```ts
 * BACKEND_NAMES.includes('wasm'); // true
 * ```
 */
export const BACKEND_NAMES: readonly BackendName[] = Object.freeze(['tensorflow', 'wasm', 'cpu', 'webgl', 'webgpu']);

/**
 * The default preference of {@link useBestBackend}: native TensorFlow, then WebAssembly, then
 * plain JavaScript.
 *
 * @example
 * ```ts
 * await useBestBackend({ order: [...DEFAULT_ORDER] }); // same as useBestBackend()
 * ```
 */
export const DEFAULT_ORDER: readonly BackendName[] = Object.freeze(['tensorflow', 'wasm', 'cpu']);

/**
 * One attempt of {@link useBestBackend}: one module for one backend.
 *
 * @example
 * ```ts
 * const { tried } = await useBestBackend({ log: false });
 * // [{ backend: 'tensorflow', module: '@tensorflow/tfjs-node-gpu', ok: false, reason: 'not installed' }, ...]
 * for (const attempt of tried) if (!attempt.ok) console.log(`${attempt.module} ${attempt.reason}`);
 * ```
 */
export interface BackendAttempt {
  /** The backend that was tried. */
  backend: BackendName;
  /** The npm package that provides it, e.g. `'@tensorflow/tfjs-node'`. */
  module: string;
  /** Whether this attempt made the backend the active one. */
  ok: boolean;
  /**
   * Why it failed, phrased to follow the module name: `'not installed'`,
   * `'failed to load (libcudart.so.11.0: cannot open shared object file)'`, ... Absent when `ok`.
   */
  reason?: string;
}

/**
 * What {@link useBestBackend} chose.
 *
 * @example
 * ```ts
 * const choice = await useBestBackend();
 * console.log(choice.name); // 'wasm' when tfjs-node is not installed
 * ```
 */
export interface BackendChoice {
  /** `tf.getBackend()` after the choice: `'tensorflow'`, `'wasm'`, `'cpu'`, `'webgl'` or `'webgpu'`. */
  name: string;
  /** The npm package that provides the chosen backend (for `'tensorflow'`: `-node-gpu` or `-node`). */
  module: string;
  /** Every attempt, in order, the successful one last. */
  tried: BackendAttempt[];
  /**
   * Problems that did not prevent the choice but deserve a look, e.g. tfjs-node bundling a second
   * copy of `@tensorflow/tfjs-core` of the same version. Empty in a healthy install.
   */
  warnings: string[];
}

/**
 * Loads a module by name; the default is the platform's dynamic `import()`.
 *
 * @example
 * ```ts
 * // A bundler-friendly importer with literal specifiers, so the bundler includes the backends:
 * const importModule: ModuleImporter = (specifier) => {
 *   if (specifier === '@tensorflow/tfjs-backend-wasm') return import('@tensorflow/tfjs-backend-wasm');
 *   if (specifier === '@tensorflow/tfjs-backend-cpu') return import('@tensorflow/tfjs-backend-cpu');
 *   return Promise.reject(Object.assign(new Error(`Cannot find module '${specifier}'`), { code: 'MODULE_NOT_FOUND' }));
 * };
 * ```
 */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/**
 * Options of {@link useBestBackend}.
 *
 * @example
 * ```ts
 * await useBestBackend({ order: ['wasm', 'cpu'], log: (line) => logger.info(line) });
 * ```
 */
export interface UseBestBackendOptions {
  /**
   * Backends to try, best first. Default {@link DEFAULT_ORDER}: `['tensorflow', 'wasm', 'cpu']`.
   * `'webgl'` and `'webgpu'` are tried only when listed and already registered (import
   * `@tensorflow/tfjs-backend-webgl` / `-webgpu` in the browser app first).
   */
  order?: readonly BackendName[];
  /**
   * `true` (default) prints one line with `console.log`, e.g.
   * `flatmin: using backend 'wasm' (tried tensorflow: @tensorflow/tfjs-node-gpu not installed, @tensorflow/tfjs-node not installed)`;
   * `false` prints nothing; a function receives the line instead.
   */
  log?: boolean | ((line: string) => void);
  /**
   * Where the wasm backend finds its `.wasm` binaries, applied with `setWasmPaths` of the module
   * this call imports, before the backend initializes.
   *
   * - default (`undefined`): in Node.js, the `dist/` folder of `@tensorflow/tfjs-backend-wasm` as
   *   resolved from this package. Plain Node finds the binaries there anyway (next to the
   *   package's CommonJS entry); this also covers custom `importModule`s.
   * - a string: passed to `setWasmPaths` as is — a folder ending in `/` or a URL prefix. Needed
   *   when server code is bundled (the bundle looks for the binaries next to itself): copy
   *   `node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm` somewhere and name that folder.
   * - `false`: never call `setWasmPaths`.
   *
   * When the application imported (registered) the wasm backend itself, its own `setWasmPaths`
   * is the one that counts: call it before `useBestBackend()`; a string here is then not applied
   * and a warning says so.
   */
  wasmPaths?: string | false;
  /**
   * Loads the backend packages; default: dynamic `import()` of the package name. Meant for tests
   * (simulate a missing or broken module) and for bundlers that need literal import specifiers.
   * A rejection whose code is `ERR_MODULE_NOT_FOUND`/`MODULE_NOT_FOUND` (or whose message says
   * the module cannot be found) for the requested specifier counts as "not installed"; any
   * other rejection as "failed to load".
   */
  importModule?: ModuleImporter;
}
