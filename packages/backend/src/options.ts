/**
 * Validation of {@link UseBestBackendOptions}. Internal (not re-exported).
 *
 * @module
 */

import { BackendConfigError } from './errors.js';
import { BACKEND_NAMES, type BackendName, DEFAULT_ORDER, type ModuleImporter, type UseBestBackendOptions } from './types.js';

const KNOWN_KEYS = ['order', 'log', 'wasmPaths', 'importModule'] as const;

/** Options with defaults applied. */
export interface ResolvedOptions {
  order: readonly BackendName[];
  log: ((line: string) => void) | undefined;
  wasmPaths: string | false | undefined;
  importModule: ModuleImporter | undefined;
}

const NAMES_IN_WORDS = BACKEND_NAMES.map((name) => `'${name}'`).join(', ');

/** Check every option and apply defaults; throws {@link BackendConfigError} naming the bad key. */
export function resolveOptions(options: UseBestBackendOptions | undefined): ResolvedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new BackendConfigError('options', options, `an object with the keys ${KNOWN_KEYS.join(', ')}`);
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      throw new BackendConfigError(key, (options as Record<string, unknown>)[key], `no such key; known keys: ${KNOWN_KEYS.join(', ')}`);
    }
  }

  const order = options.order ?? DEFAULT_ORDER;
  if (!Array.isArray(order) || order.length === 0) {
    throw new BackendConfigError('order', order, `a non-empty array whose entries are ${NAMES_IN_WORDS}`);
  }
  order.forEach((entry: unknown, index) => {
    if (typeof entry !== 'string' || !(BACKEND_NAMES as readonly string[]).includes(entry)) {
      throw new BackendConfigError('order', entry, `each entry one of ${NAMES_IN_WORDS}`, `(The bad entry is order[${index}].)`);
    }
    if (order.indexOf(entry as BackendName) !== index) {
      throw new BackendConfigError('order', entry, 'each backend at most once', `(order[${index}] repeats it.)`);
    }
  });

  const log = options.log ?? true;
  if (typeof log !== 'boolean' && typeof log !== 'function') {
    throw new BackendConfigError('log', log, 'true, false or a function (line: string) => void');
  }

  const wasmPaths = options.wasmPaths;
  if (wasmPaths !== undefined && wasmPaths !== false && (typeof wasmPaths !== 'string' || wasmPaths === '')) {
    throw new BackendConfigError('wasmPaths', wasmPaths, 'a non-empty string (folder or URL prefix of the .wasm files) or false');
  }

  const importModule = options.importModule;
  if (importModule !== undefined && typeof importModule !== 'function') {
    throw new BackendConfigError('importModule', importModule, 'a function (specifier: string) => Promise<module>');
  }

  return {
    order: [...order],
    log: log === true ? (line) => console.log(line) : log === false ? undefined : log,
    wasmPaths,
    importModule,
  };
}
