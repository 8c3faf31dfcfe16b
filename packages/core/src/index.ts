/**
 * `@flatmin/core`: the sharpness-aware step for TensorFlow.js and the small interface
 * every flatmin component implements.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './random.js';
export * from './registry.js';
export * from './tensor-math.js';
export type * from './types.js';
