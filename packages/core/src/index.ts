/**
 * `@flatmin/core`: the sharpness-aware step for TensorFlow.js and the small interface
 * every flatmin component implements.
 *
 * @packageDocumentation
 */
export * from './combiners.js';
export * from './errors.js';
export * from './optimizer.js';
export * from './random.js';
export * from './registry.js';
export * from './schedule.js';
export * from './state.js';
export * from './tensor-math.js';
export type * from './types.js';
