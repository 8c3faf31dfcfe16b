/**
 * `@flatmin/backend`: pick the fastest TensorFlow.js backend that is installed —
 * tfjs-node-gpu, tfjs-node, wasm, cpu — and say which one it picked.
 *
 * @example
 * ```ts
 * import { useBestBackend } from '@flatmin/backend';
 *
 * const { name } = await useBestBackend();
 * ```
 *
 * @packageDocumentation
 */

export { describeBackend, type BackendDescription } from './describe-backend.js';
export { BackendConfigError, NoBackendError } from './errors.js';
export {
  BACKEND_NAMES,
  DEFAULT_ORDER,
  type BackendAttempt,
  type BackendChoice,
  type BackendName,
  type ModuleImporter,
  type UseBestBackendOptions,
} from './types.js';
export { useBestBackend } from './use-best-backend.js';
