/**
 * Factories by name, so that `SharpnessAwareOptimizer.fromConfig` (and so
 * `tf.loadLayersModel` of a model saved with its optimizer) can rebuild components.
 * Each component package registers its factories in the factory's own module.
 *
 * @module
 */
import type { Averager, Combiner, JsonValue, Perturbation, Schedule } from './types.js';

/** The kinds of component. */
export type ComponentKind = 'perturbation' | 'schedule' | 'combiner' | 'averager';

/**
 * Every kind, in the order state is saved.
 *
 * @example
 * ```ts
 * for (const kind of COMPONENT_KINDS) console.log(kind, lookupComponent(kind, 'always') !== undefined);
 * ```
 */
export const COMPONENT_KINDS: readonly ComponentKind[] = ['perturbation', 'schedule', 'combiner', 'averager'];

/** Any component. */
export type Component = Perturbation | Schedule | Combiner | Averager;

/** A factory that rebuilds a component from its JSON `config`. */
export type ComponentFactory = (config: Record<string, JsonValue>) => Component;

const factories = new Map<string, ComponentFactory>();

/**
 * Register a factory under `kind` and `name` (the component's `name` field).
 *
 * @example
 * ```ts
 * registerComponent('perturbation', 'gradient', (config) => gradient(config));
 * ```
 */
export function registerComponent(kind: ComponentKind, name: string, factory: ComponentFactory): void {
  factories.set(`${kind}:${name}`, factory);
}

/**
 * The factory registered for `kind` and `name`, or `undefined`.
 *
 * @example
 * ```ts
 * const factory = lookupComponent('perturbation', 'gradient'); // after import '@flatmin/perturb-gradient'
 * const perturbation = factory?.({ rho: 0.1 });
 * ```
 */
export function lookupComponent(kind: ComponentKind, name: string): ComponentFactory | undefined {
  return factories.get(`${kind}:${name}`);
}
