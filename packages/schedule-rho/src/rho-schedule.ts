/**
 * `rhoSchedule(rho, inner?)`: ρ(t) from a host function, around any schedule that decides which
 * steps are sharp.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  always,
  type ComponentState,
  FlatminConfigError,
  FlatminError,
  type JsonValue,
  type NamedTensors,
  type ObserveContext,
  type Schedule,
  type ScheduleContext,
} from '@flatmin/core';
import { registerComponent } from '@flatmin/core/kit';
import { innerState, isSchedule, rebuildSchedule, wrapState } from './nested.js';
import { isRhoRule, lookupRhoRule, type RhoFunction, type RhoRule } from './rules.js';

const WHERE = 'rhoSchedule';

/**
 * A schedule whose radius follows `rho` (Foret et al.'s SAM with ρ(t); GSAM's ρ proportional to
 * the learning rate, Zhuang et al., ICLR 2022; LPF-SGD's cosine increase, Bisla et al., AISTATS
 * 2022; the 1/√t decay of convergence analyses). Each step:
 *
 * - `inner.decide` says whether the step is sharp (default `always()`: every step), and
 *   `inner.adjust`/`inner.observe` run as they would alone — so `rhoSchedule(inverseSqrt(), everyK({ k: 5 }))`
 *   is LookSAM with a decaying ρ;
 * - ρ_t = `rho(step, learningRate)`, on the host (a JS number, uploaded as a device scalar: no
 *   device read), with `step` the completed updates before this one and `learningRate` the base
 *   optimizer's `learningRate` as it is when the step starts. It replaces the perturbation's own
 *   `rho` (and any ρ the inner schedule gives). A value that is not a finite number ≥ 0 throws a
 *   `FlatminError` naming the step, and the step is rolled back.
 *
 * State and config nest the inner schedule's: its state keys get an `inner-` prefix on their slot,
 * and `config` is `{ rho: { name, config }, inner: { name, config } }`, registered as
 * `('schedule', 'rhoSchedule')`, so `getConfig`/`fromConfig` and `model.save` rebuild both — when
 * `rho` is a rule ({@link inverseSqrt}, {@link cosineIncrease}, {@link proportionalToLearningRate},
 * or yours from {@link makeRhoRule} + {@link registerRhoRule}). A plain function is saved as
 * `rho: null` and `fromConfig` refuses it with a `FlatminConfigError` for `rho`.
 *
 * Cost: nothing beyond the inner schedule's (one host call and one scalar upload per step).
 *
 * @param rho a {@link RhoFunction} `(step, learningRate) => number` or a {@link RhoRule}.
 * @param inner the schedule that decides which steps are sharp (default `always()`).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { cosineIncrease, rhoSchedule } from '@flatmin/schedule-rho';
 *
 * const optimizer = sharpnessAware({
 *   base: tf.train.sgd(0.1),
 *   perturbation: gradient(),
 *   schedule: rhoSchedule(cosineIncrease({ rho: 0.02, increase: 4, totalSteps: 2000 })),
 * });
 * const custom = rhoSchedule((step) => (step < 100 ? 0 : 0.05)); // SAM after 100 plain steps (not saved by getConfig)
 * ```
 */
export function rhoSchedule(rho: RhoFunction | RhoRule, inner?: Schedule): Schedule {
  if (typeof rho !== 'function') {
    throw new FlatminConfigError('rho', rho, "a function (step, learningRate) => number, or a rule such as inverseSqrt({ rho: 0.05 })", WHERE);
  }
  const decider = inner === undefined ? always() : inner;
  if (!isSchedule(decider)) {
    throw new FlatminConfigError('inner', inner, "a flatmin schedule (e.g. always() from '@flatmin/core')", WHERE);
  }
  const savedRho: JsonValue = isRhoRule(rho) ? { name: rho.name, config: { ...rho.config } as Record<string, JsonValue> } : null;
  const config = Object.freeze({ rho: savedRho, inner: { name: decider.name, config: { ...decider.config } as Record<string, JsonValue> } });

  const schedule: Schedule = {
    kind: 'schedule',
    name: WHERE,
    config,
    ...(decider.needsGradient === undefined ? {} : { needsGradient: decider.needsGradient }),
    ...(decider.requires === undefined ? {} : { requires: decider.requires }),
    decide(context: ScheduleContext, state: ComponentState) {
      const { decision, state: next } = decider.decide(context, innerState(state));
      const value = radius(rho, context.step, context.learningRate);
      const ours = { decision: { sharp: decision.sharp, rho: tf.scalar(value) } };
      return next === undefined ? ours : { ...ours, state: wrapState(next) };
    },
  };
  const adjust = decider.adjust?.bind(decider);
  if (adjust !== undefined) {
    schedule.adjust = (context: ScheduleContext & { readonly grads: NamedTensors }, state: ComponentState) => {
      const { grads, state: next } = adjust(context, innerState(state));
      return next === undefined ? { grads } : { grads, state: wrapState(next) };
    };
  }
  const observe = decider.observe?.bind(decider);
  if (observe !== undefined) {
    schedule.observe = (context: ObserveContext, state: ComponentState) => wrapState(observe(context, innerState(state)));
  }
  return schedule;
}

/** ρ_t from the host function, checked: a finite number ≥ 0, or a FlatminError naming the step. */
function radius(rho: RhoFunction, step: number, learningRate: number): number {
  const value = rho(step, learningRate);
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  const shown = typeof value === 'number' ? String(value) : `a ${typeof value}`;
  const hint = Number.isNaN(learningRate) ? ' (the base optimizer has no numeric learningRate, which a rule of the learning rate needs)' : '';
  throw new FlatminError(
    `${WHERE}: the rho function returned ${shown} at step ${step} (learning rate ${learningRate})${hint}; ρ must be a finite number >= 0.`,
  );
}

/** Rebuild `rhoSchedule` from its config (what `fromConfig` calls). */
function fromConfig(config: Record<string, JsonValue>): Schedule {
  const where = `${WHERE}.fromConfig`;
  const saved = config['rho'] as { name?: unknown; config?: unknown } | null | undefined;
  if (saved === null || saved === undefined || typeof saved !== 'object' || typeof saved.name !== 'string') {
    throw new FlatminConfigError(
      'rho',
      saved,
      'a saved ρ rule: this schedule was built with a plain function, which cannot be saved — rebuild the optimizer with rhoSchedule(yourFunction) and restore its state with setWeights, or make the function a rule with makeRhoRule + registerRhoRule',
      where,
    );
  }
  const factory = lookupRhoRule(saved.name);
  if (factory === undefined) {
    throw new FlatminConfigError('rho', saved, `a registered ρ rule: register '${saved.name}' with registerRhoRule before fromConfig`, where);
  }
  const rule = factory((saved.config ?? {}) as Record<string, JsonValue>);
  return rhoSchedule(rule, rebuildSchedule(config['inner'], 'inner', where));
}

registerComponent('schedule', WHERE, fromConfig);
