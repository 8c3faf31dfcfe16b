/**
 * `flatmin`: every published flat-minima method as a preset — one call that returns a
 * `SharpnessAwareOptimizer` (a `tf.Optimizer` for `model.compile` or a custom loop) composed from
 * the `@flatmin/*` parts with the paper's defaults. Each takes `{ base, ...the paper's keys }`, and
 * the settings of `sharpnessAware` (`seed`, `weightDecay`, `scope`, ...). `presets` lists them all
 * with their paper, parts and cost per step.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { lookSam, sam } from 'flatmin';
 *
 * const optimizer = sam({ base: tf.train.momentum(0.05, 0.9), rho: 0.05 });
 * const cheaper = lookSam({ base: tf.train.momentum(0.05, 0.9), k: 5 });
 * ```
 *
 * @packageDocumentation
 */
export { type EmaPresetOptions, ema, type MesaPresetOptions, mesa, type SwadPresetOptions, type SwaPresetOptions, swa, swad, type WithSam } from './averagers.js';
export { type PresetInfo, type PresetNeeds, presets } from './catalog.js';
export { type ImbSamKeys, type ImbSamOptions, imbSam } from './imbalanced.js';
export {
  type FlatLoraKeys,
  type FlatLoraOptions,
  flatLora,
  type LpfSgdKeys,
  type LpfSgdOptions,
  lpfSgd,
  type MarwpKeys,
  type MarwpOptions,
  marwp,
  type RwpKeys,
  type RwpOptions,
  rwp,
} from './noise.js';
export {
  type AsamOptions,
  asam,
  type FisherSamOptions,
  type FsamOptions,
  fisherSam,
  fsam,
  type OgSamOptions,
  ogSam,
  type SamOptions,
  sam,
  type VassoOptions,
  vasso,
} from './perturbations.js';
export type { MethodSettings, PresetSettings } from './preset.js';
export { type GsamKeys, type GsamOptions, gsam, type LetsKeys, type LetsOptions, lets } from './radius.js';
export { type AeSamKeys, type AeSamOptions, aeSam, type LookSamKeys, type LookSamOptions, lookSam, type RstKeys, type RstOptions, rst } from './schedules.js';
export { type EsamKeys, type EsamOptions, esam, type SsamDKeys, type SsamDOptions, type SsamFKeys, type SsamFOptions, ssamD, ssamF } from './sparse.js';
