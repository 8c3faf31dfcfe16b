/**
 * `useBestBackend()`: make the fastest installed TensorFlow.js backend the active one.
 *
 * @module
 */

import * as tf from '@tensorflow/tfjs-core';
import { dynamicImport, isNode, isNotInstalled, resolveWasmDirectory, shortMessage } from './environment.js';
import { NoBackendError } from './errors.js';
import { type ResolvedOptions, resolveOptions } from './options.js';
import type { BackendAttempt, BackendChoice, BackendName, ModuleImporter, UseBestBackendOptions } from './types.js';

/** The packages that provide the native `'tensorflow'` backend, best first. */
const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** The package of every other backend. */
const BACKEND_PACKAGES: Record<Exclude<BackendName, 'tensorflow'>, string> = {
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
  webgl: '@tensorflow/tfjs-backend-webgl',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
};

/** The module named when the 'tensorflow' backend was registered before this call and its package is unknown. */
const ALREADY_REGISTERED = '@tensorflow/tfjs-node(-gpu)';

interface Run {
  readonly options: ResolvedOptions;
  readonly importModule: ModuleImporter;
  readonly tried: BackendAttempt[];
  readonly warnings: string[];
}

type Loaded = { ok: true; module: unknown } | { ok: false; reason: string };

// Calls run one after another: two interleaved choices would fight over the one global engine.
let queue: Promise<unknown> = Promise.resolve();

/**
 * Make the fastest installed TensorFlow.js backend the active one and say which it is.
 *
 * Tries the backends of `options.order` (default `['tensorflow', 'wasm', 'cpu']`) in turn and
 * stops at the first that initializes:
 *
 * 1. `'tensorflow'` (Node.js only): `import('@tensorflow/tfjs-node-gpu')`, then
 *    `import('@tensorflow/tfjs-node')`. Native libtensorflow; the GPU build needs CUDA.
 *    The imported package must register its backend in **this** `@tensorflow/tfjs-core` at the
 *    same version; if it registered it elsewhere, or uses another tfjs-core version, the attempt
 *    is reported as failed (install one deduplicated tfjs-core).
 * 2. `'wasm'`: `import('@tensorflow/tfjs-backend-wasm')`, in Node pointing `setWasmPaths` at the
 *    package's `dist/` folder (see {@link UseBestBackendOptions.wasmPaths}), then
 *    `tf.setBackend('wasm')`. About 4× faster than `cpu` for dense layers, but it lacks the
 *    `Conv2DBackpropFilter` kernel: to **train** CNNs use `cpu` or `tensorflow`
 *    (e.g. `order: ['tensorflow', 'cpu']`).
 * 3. `'cpu'`: `import('@tensorflow/tfjs-backend-cpu')`, plain JavaScript.
 *
 * `'webgl'`/`'webgpu'` are tried when listed and already registered. A backend that is already
 * registered (its package was imported by the application) is used without importing anything.
 * A package that is not installed is a normal outcome, reported as `'not installed'`; none of
 * them is a dependency of this package.
 *
 * @param options - see {@link UseBestBackendOptions}.
 * @returns the active backend's name, the providing package, every attempt and any warnings.
 * @throws {@link BackendConfigError} (`name === 'FlatminConfigError'`) for invalid options, e.g.
 *   an unknown `order` entry; {@link NoBackendError} when no backend in `order` works (the
 *   previously active backend is restored first).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { useBestBackend } from '@flatmin/backend';
 *
 * const { name } = await useBestBackend();
 * // flatmin: using backend 'wasm' (tried tensorflow: @tensorflow/tfjs-node-gpu not installed, @tensorflow/tfjs-node not installed)
 * console.log(name, tf.getBackend()); // 'wasm' 'wasm'
 *
 * // A CNN that trains: skip wasm, keep the log quiet.
 * await useBestBackend({ order: ['tensorflow', 'cpu'], log: false });
 * ```
 */
export async function useBestBackend(options?: UseBestBackendOptions): Promise<BackendChoice> {
  const resolved = resolveOptions(options); // a bad option rejects the returned promise
  const result = queue.then(() => choose(resolved));
  queue = result.catch(() => undefined);
  return result;
}

async function choose(options: ResolvedOptions): Promise<BackendChoice> {
  const run: Run = { options, importModule: options.importModule ?? dynamicImport, tried: [], warnings: [] };
  const previous = initializedBackendName();
  for (const backend of options.order) {
    const module = backend === 'tensorflow' ? await tryTensorflow(run) : await tryPackage(backend, run);
    if (module !== undefined) {
      const choice: BackendChoice = { name: tf.getBackend(), module, tried: run.tried, warnings: run.warnings };
      options.log?.(formatChoice(choice));
      return choice;
    }
  }
  if (previous !== undefined && tf.getBackend() !== previous) {
    await tf.setBackend(previous).catch(() => false);
  }
  throw new NoBackendError(
    `flatmin: no TensorFlow.js backend in order [${options.order.join(', ')}] could be used ` +
      `(tried ${formatFailures(run.tried)}). Install @tensorflow/tfjs-backend-wasm or ` +
      `@tensorflow/tfjs-backend-cpu and add 'wasm' or 'cpu' to order.`,
    run.tried,
  );
}

/** The `'tensorflow'` backend: tfjs-node-gpu, then tfjs-node. Returns the package used, or undefined. */
async function tryTensorflow(run: Run): Promise<string | undefined> {
  if (isRegistered('tensorflow')) {
    // The application imported tfjs-node(-gpu) itself: use it as is.
    const failure = await activate('tensorflow');
    const module = failure === undefined ? nodePackageName() : ALREADY_REGISTERED;
    record(run, 'tensorflow', module, failure);
    return failure === undefined ? module : undefined;
  }
  if (!isNode()) {
    for (const module of TENSORFLOW_PACKAGES) record(run, 'tensorflow', module, 'needs Node.js');
    return undefined;
  }
  for (const module of TENSORFLOW_PACKAGES) {
    const loaded = await load(run, module);
    if (!loaded.ok) {
      record(run, 'tensorflow', module, loaded.reason);
      continue;
    }
    const mismatch = checkSameTfjsCore(loaded.module, run);
    if (mismatch !== undefined) {
      record(run, 'tensorflow', module, mismatch);
      continue;
    }
    const failure = await activate('tensorflow');
    record(run, 'tensorflow', module, failure);
    if (failure === undefined) return module;
  }
  return undefined;
}

/** `'wasm'`, `'cpu'`, `'webgl'`, `'webgpu'`. Returns the package used, or undefined. */
async function tryPackage(backend: Exclude<BackendName, 'tensorflow'>, run: Run): Promise<string | undefined> {
  const module = BACKEND_PACKAGES[backend];
  let loadedHere: unknown; // the module object, when this call imported the package itself
  if (!isRegistered(backend)) {
    if (backend === 'webgl' || backend === 'webgpu') {
      record(run, backend, module, `not registered (import '${module}' before calling useBestBackend)`);
      return undefined;
    }
    const loaded = await load(run, module);
    if (!loaded.ok) {
      record(run, backend, module, loaded.reason);
      return undefined;
    }
    if (!isRegistered(backend)) {
      record(run, backend, module, `loaded, but '${backend}' is not registered in this @tensorflow/tfjs-core (${tf.version_core}); it uses another copy — install one deduplicated @tensorflow/tfjs-core`);
      return undefined;
    }
    loadedHere = loaded.module;
  }
  if (backend === 'wasm') {
    const failure = await configureWasmPaths(run, loadedHere);
    if (failure !== undefined) {
      record(run, backend, module, failure);
      return undefined;
    }
  }
  const failure = await activate(backend);
  record(run, backend, module, failure);
  return failure === undefined ? module : undefined;
}

/**
 * Point the wasm backend at its binaries before it initializes, through the `setWasmPaths` of the
 * module this call imported. Plain Node.js finds them next to the package's CommonJS entry anyway;
 * an explicit folder matters for server bundles and custom importers. When the application
 * registered the backend itself, its own copy of `setWasmPaths` is the one that counts (importing
 * the package again here could reach a different copy), so `wasmPaths` is then only warned about.
 */
async function configureWasmPaths(run: Run, loadedHere: unknown): Promise<string | undefined> {
  const { wasmPaths } = run.options;
  if (wasmPaths === false || tf.engine().registry['wasm'] != null) return undefined; // opted out, or already initialized
  const explicit = typeof wasmPaths === 'string';
  if (loadedHere === undefined) {
    if (explicit) {
      run.warnings.push(
        "option wasmPaths was not applied: the application registered 'wasm' before this call, so call setWasmPaths() from its own import of @tensorflow/tfjs-backend-wasm",
      );
    }
    return undefined;
  }
  const path = explicit ? wasmPaths : await resolveWasmDirectory();
  if (path === undefined) return undefined;
  const setWasmPaths = findExport<unknown>(loadedHere, 'setWasmPaths');
  if (typeof setWasmPaths !== 'function') return explicit ? 'has no setWasmPaths() to apply option wasmPaths' : undefined;
  try {
    (setWasmPaths as (prefix: string) => void)(path);
    return undefined;
  } catch (error) {
    return `setWasmPaths(${JSON.stringify(path)}) failed (${shortMessage(error)})`;
  }
}

/**
 * After importing tfjs-node(-gpu): its 'tensorflow' backend must be registered in our tfjs-core's
 * engine, and it must be built against the same tfjs-core version. Returns a failure reason, or
 * undefined; a second copy of the same version is only a warning.
 */
function checkSameTfjsCore(module: unknown, run: Run): string | undefined {
  const version = findExport<Record<string, string>>(module, 'version');
  const theirCore = typeof version?.['tfjs-core'] === 'string' ? version['tfjs-core'] : findExport<string>(module, 'version_core');
  const ours = tf.version_core;
  if (!isRegistered('tensorflow')) {
    return (
      `loaded, but registered its 'tensorflow' backend in another @tensorflow/tfjs-core` +
      `${typeof theirCore === 'string' ? ` (${theirCore})` : ''} than this app's (${ours}); install one deduplicated @tensorflow/tfjs-core`
    );
  }
  if (typeof theirCore === 'string' && theirCore !== ours) {
    return `uses @tensorflow/tfjs-core ${theirCore} but this app uses ${ours}; install the same version so there is one copy`;
  }
  const theirEngine = findExport<unknown>(module, 'engine');
  if (typeof theirEngine === 'function' && theirEngine !== tf.engine) {
    run.warnings.push(
      `the tfjs-node package loads a second copy of @tensorflow/tfjs-core ${ours}; it works because both share one global engine, ` +
        `but classes registered with one copy are unknown to the other — dedupe it (npm dedupe; pnpm: one @tensorflow/tfjs-core version)`,
    );
  }
  return undefined;
}

async function load(run: Run, module: string): Promise<Loaded> {
  try {
    return { ok: true, module: await run.importModule(module) };
  } catch (error) {
    return { ok: false, reason: isNotInstalled(error, module) ? 'not installed' : `failed to load (${shortMessage(error)})` };
  }
}

/** `tf.setBackend(name)`; returns a failure reason, or undefined when `name` is now active. */
async function activate(name: BackendName): Promise<string | undefined> {
  try {
    const ok = await tf.setBackend(name);
    if (ok && tf.getBackend() === name) return undefined;
    return `failed to initialize (tf.setBackend('${name}') returned false; tfjs logged the cause above)`;
  } catch (error) {
    return `failed to initialize (${shortMessage(error)})`;
  }
}

function record(run: Run, backend: BackendName, module: string, failure: string | undefined): void {
  run.tried.push(failure === undefined ? { backend, module, ok: true } : { backend, module, ok: false, reason: failure });
}

function isRegistered(name: string): boolean {
  return tf.engine().registryFactory[name] != null;
}

/** The backend that is set and initialized now, if any (a failed `setBackend` leaves the name set but no instance). */
function initializedBackendName(): string | undefined {
  const engine = tf.engine();
  const name = engine.backendName as string | null;
  return name != null && engine.registry[name] != null ? name : undefined;
}

/** The package of the active NodeJSKernelBackend (it keeps the name it was created with). */
function nodePackageName(): string {
  const packageName = (tf.engine().registry['tensorflow'] as { packageName?: unknown } | undefined)?.packageName;
  return typeof packageName === 'string' ? packageName : ALREADY_REGISTERED;
}

/** A named export of an ES module namespace, or of a CommonJS module's `default` (module.exports). */
function findExport<T>(module: unknown, name: string): T | undefined {
  if (typeof module !== 'object' || module === null) return undefined;
  const direct = (module as Record<string, unknown>)[name];
  if (direct !== undefined) return direct as T;
  const fallback = (module as { default?: Record<string, unknown> }).default;
  return typeof fallback === 'object' && fallback !== null ? (fallback[name] as T | undefined) : undefined;
}

/** `flatmin: using backend 'wasm' (tried tensorflow: @tensorflow/tfjs-node-gpu not installed, ...)`. */
function formatChoice(choice: BackendChoice): string {
  const via = choice.name === 'tensorflow' ? ` via ${choice.module}` : '';
  const failed = choice.tried.filter((attempt) => !attempt.ok);
  const tried = failed.length > 0 ? ` (tried ${formatFailures(failed)})` : '';
  const warnings = choice.warnings.length > 0 ? ` [warning: ${choice.warnings.join('; ')}]` : '';
  return `flatmin: using backend '${choice.name}'${via}${tried}${warnings}`;
}

/** `tensorflow: A not installed, B not installed; wasm: C failed to load (...)`. */
function formatFailures(attempts: readonly BackendAttempt[]): string {
  const groups: Array<{ backend: BackendName; items: string[] }> = [];
  for (const attempt of attempts) {
    if (attempt.ok) continue;
    const item = `${attempt.module} ${attempt.reason ?? 'failed'}`;
    const last = groups[groups.length - 1];
    if (last !== undefined && last.backend === attempt.backend) last.items.push(item);
    else groups.push({ backend: attempt.backend, items: [item] });
  }
  return groups.map((group) => `${group.backend}: ${group.items.join(', ')}`).join('; ');
}
