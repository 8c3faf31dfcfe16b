/**
 * `@flatmin/core`: the sharpness-aware step for TensorFlow.js — what a user calls. The helpers for
 * writing components (config checks, state encoding, named-tensor math, `registerComponent`, the
 * random source) are at `@flatmin/core/kit`.
 *
 * @packageDocumentation
 */
export { adversarial, type MixOptions, mix, type SurrogateGapOptions, surrogateGap } from './combiners.js';
export type { AccumulateOptions, NonFinitePolicy, Settings, SharpnessAwareConfig } from './config.js';
export { FlatminConfigError, FlatminError } from './errors.js';
export { SharpnessAwareOptimizer, sharpnessAware } from './optimizer.js';
export { always } from './schedule.js';
export { classSplit } from './step/objective.js';
export type { NamedWeight } from './persist.js';
export type { Telemetry, TelemetryTensors } from './telemetry.js';
export {
  type OptimizerHolder,
  type SharpnessAwareSource,
  sharpnessAwareOf,
  TELEMETRY_LOG_KEYS,
  type TelemetryCallback,
  type TelemetryCallbackOptions,
  type TelemetryLogKey,
  telemetryCallback,
  telemetryOf,
} from './telemetry-callback.js';
export type * from './types.js';
export type { LayersLike, Scope, ScopeOptions, VariableSource } from './variables.js';
