/**
 * The optimizer's JSON config (`getConfig`) and its inverse (`fromConfig`): what
 * `tf.loadLayersModel` uses to rebuild a model's optimizer, through the component registry.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { CONFIG_KEYS, type Settings, type SharpnessAwareConfig } from './config.js';
import { FlatminConfigError, FlatminError } from './errors.js';
import { type ComponentKind, COMPONENT_KINDS, lookupComponent } from './registry.js';
import type { Averager, Combiner, JsonValue, Perturbation, Schedule } from './types.js';

type Named = { name: string; config: Readonly<Record<string, JsonValue>> };

/** The JSON config of an optimizer. */
export function configOf(
  base: tf.Optimizer,
  components: { perturbation: Perturbation; schedule: Schedule; combiner: Combiner },
  s: Settings,
  averager: Averager | undefined,
): tf.serialization.ConfigDict {
  const component = (c: Named) => ({ name: c.name, config: { ...c.config } });
  const config: Record<string, unknown> = {
    base: { className: base.getClassName(), config: base.getConfig() },
    perturbation: component(components.perturbation),
    schedule: component(components.schedule),
    combiner: component(components.combiner),
    scope: s.scope === 'trainable' ? 'trainable' : 'custom',
    weightDecay: s.weightDecay,
    weightDecayInPerturbation: s.weightDecayInPerturbation,
    decoupledWeightDecay: s.decoupledWeightDecay,
    seed: s.seed,
    onNonFinite: s.onNonFinite,
    accumulate: { ...s.accumulate },
    telemetry: s.telemetry,
    keptInAdversarialPass: s.keptInAdversarialPass,
  };
  if (s.sharpOn !== null) config['sharpOn'] = [...s.sharpOn];
  if (averager !== undefined) config['averager'] = component(averager);
  return config as tf.serialization.ConfigDict;
}

/** The `sharpnessAware` config a saved JSON config describes (components rebuilt through the registry). */
export function configFrom(config: tf.serialization.ConfigDict): SharpnessAwareConfig {
  const c = config as Record<string, unknown>;
  const where = 'SharpnessAwareOptimizer.fromConfig';
  const baseEntry = c['base'] as { className: string; config: tf.serialization.ConfigDict } | undefined;
  if (baseEntry === undefined) throw new FlatminConfigError('base', undefined, 'a saved base optimizer config', where);
  const registered = tf.serialization.SerializationMap.getMap().classNameMap[baseEntry.className];
  if (registered === undefined) throw new FlatminConfigError('base', baseEntry.className, 'a registered tfjs optimizer class', where);
  const [baseClass, baseFromConfig] = registered;
  const build = (kind: ComponentKind) => {
    const entry = c[kind] as { name: string; config: Record<string, JsonValue> } | undefined;
    if (entry === undefined) return undefined;
    const factory = lookupComponent(kind, entry.name);
    if (factory === undefined) throw new FlatminError(`fromConfig: no ${kind} '${entry.name}' is registered: import the package that exports ${entry.name}() first.`);
    return factory(entry.config);
  };
  if (c['scope'] !== undefined && c['scope'] !== 'trainable') {
    throw new FlatminConfigError('scope', c['scope'], "'trainable': a predicate or model scope cannot be saved; rebuild the optimizer with sharpnessAware()", where);
  }
  const options: Record<string, unknown> = { base: baseFromConfig(baseClass, baseEntry.config) };
  for (const kind of COMPONENT_KINDS) options[kind] = build(kind);
  for (const key of CONFIG_KEYS) if (!(key in options) && c[key] !== undefined) options[key] = c[key];
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as unknown as SharpnessAwareConfig;
}
