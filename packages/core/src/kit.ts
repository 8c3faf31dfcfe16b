/**
 * `@flatmin/core/kit`: what a component author needs besides the interfaces — config checks that
 * name the bad key, state bookkeeping and encoding, global named-tensor math, the component
 * registry (for `getConfig`/`fromConfig`), the seeded random source and normal draws, and `attachAverager` (an
 * averager by itself next to any tfjs optimizer: the handle behind an averager factory's `attach`).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import type { Perturbation } from '@flatmin/core';
 * import { checkNumber, checkOptions, normalizeGlobal, pickNamed, registerComponent } from '@flatmin/core/kit';
 *
 * export function halfSam(options?: { rho?: number }): Perturbation {
 *   const { rho: given } = checkOptions(options, ['rho'], 'halfSam'); // halfSam(0.1) is refused as 'options'
 *   const rho = checkNumber('rho', given === undefined ? 0.05 : given, { min: 0 }, 'halfSam'); // null is refused
 *   return {
 *     kind: 'perturbation', name: 'halfSam', config: { rho }, rho, needsGradient: true,
 *     compute: (context) => ({ epsilon: normalizeGlobal(pickNamed(context.grads!, context.variables), tf.div(context.rho, 2), context.normEpsilon) }),
 *   };
 * }
 * registerComponent('perturbation', 'halfSam', (config) => halfSam(config as { rho?: number }));
 * ```
 *
 * @packageDocumentation
 */
export {
  type AttachModel,
  type AttachOptions,
  type AttachTarget,
  attachAverager,
  type StandaloneAverager,
  type StandaloneCallbackOptions,
} from './attach-averager.js';
export { type HostMemory, hostMemory } from './cpu-kernel.js';
export { type Elementwise, elementwise, type Operand } from './elementwise.js';
export { checkChoice, checkKnownKeys, checkNumber, checkOptions, type NumberRange } from './errors.js';
export { fillNormal, normalDraws } from './normal.js';
export { type GeneratorState, SeededRandom, seedState } from './random.js';
export { COMPONENT_KINDS, type Component, type ComponentFactory, type ComponentKind, lookupComponent, registerComponent } from './registry.js';
export { decodeNumber, disposeState, encodeNumber, replaceState, stateTensors, variableKey } from './state.js';
export { pick } from './step/pick.js';
export { addNamed, filterNorms, filterSums, flatDot, globalDot, globalNorm, lastAxisVector, mapNamed, normalizeGlobal, pickNamed, scaleBy, shareData, sumOfSquares } from './tensor-math.js';
export type * from './types.js';
