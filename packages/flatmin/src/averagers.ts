/**
 * Weight-averaging presets: SWA, SWAD, EMA and MESA. Each returns a `SharpnessAwareOptimizer` with
 * the averager attached (`optimizer.averager`: `apply()`, `restore()`, `callback()`), whose steps
 * are the base optimizer's plain steps — the papers average plain SGD/Adam runs — or SAM steps with
 * `sam: true`.
 *
 * @module
 */
import { type Averager, FlatminConfigError, FlatminError, type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { type EmaOptions, ema as emaAverager, type MesaOptions, mesa as mesaAverager } from '@flatmin/average-ema';
import { type SwaOptions, swa as swaAverager } from '@flatmin/average-swa';
import { type SwadOptions, swad as swadAverager } from '@flatmin/average-swad';
import { gradient } from '@flatmin/perturb-gradient';
import { randomly } from '@flatmin/schedule-random';
import { defined, GuardedOptimizer, type PresetGuard, type PresetSettings, resolvePreset } from './preset.js';

/** The keys every averager preset takes besides its averager's: whether the steps are SAM steps. */
export interface WithSam {
  /** `false` (default): the base optimizer's plain one-pass steps; `true`: SAM steps (two passes), ε = ρ g/‖g‖. */
  sam?: boolean;
  /** SAM's ρ with `sam: true` (default 0.05); refused without it. */
  rho?: number;
}

const SAM_KEYS = ['sam', 'rho'] as const;

/** The optimizer of an averager preset: plain steps (`randomly({ p: 0 })`: no step is sharp) or SAM's. */
function withAverager(name: string, settings: Omit<Parameters<typeof sharpnessAware>[0], 'perturbation'>, keys: { sam: boolean | undefined; rho: number | undefined }, averager: Averager, guard?: PresetGuard): SharpnessAwareOptimizer {
  const { sam, rho } = keys;
  if (sam !== undefined && typeof sam !== 'boolean') throw new FlatminConfigError('sam', sam, 'a boolean: true for SAM steps, false (default) for plain steps', name);
  if (rho !== undefined && sam !== true) throw new FlatminConfigError('rho', rho, `no rho without sam: true (plain steps have no radius); ${name}({ base, sam: true, rho })`, name);
  const config =
    sam === true
      ? { ...settings, perturbation: gradient(defined({ rho })), averager }
      : { ...settings, perturbation: gradient({ rho: 0 }), schedule: randomly({ p: 0 }), averager };
  return guard === undefined ? sharpnessAware(config) : new GuardedOptimizer(config, guard);
}

/** Options of {@link swa}: `start` (0), `every` (1), `sam` (false), `rho`, and the settings. */
export type SwaPresetOptions = PresetSettings & SwaOptions & WithSam;

/**
 * SWA — Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, "Averaging Weights Leads to Wider Optima
 * and Better Generalization", UAI 2018: the equal average of the weights after every `every`-th
 * update past `start`. `sharpnessAware({ base, perturbation: gradient({ rho: 0 }), schedule:
 * randomly({ p: 0 }), averager: swa({ start, every }) })` — plain base steps, one pass each; with
 * `sam: true`, `perturbation: gradient({ rho })` and every step SAM's. Defaults start 0, every 1
 * (the paper starts at 75 % of the budget: set `start`). Refresh BatchNorm statistics for the
 * averaged weights with `updateBatchNorm` from `@flatmin/average-swa`.
 *
 * @example
 * ```ts
 * const optimizer = swa({ base: tf.train.sgd(0.05), start: 750 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * await model.fit(x, y, { epochs: 10, callbacks: [optimizer.averager!.callback()] });
 * ```
 */
export function swa(options: SwaPresetOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<SwaOptions & WithSam>(options, 'swa', ['start', 'every', ...SAM_KEYS], false);
  const { sam, rho, ...averager } = method;
  return withAverager('swa', settings, { sam, rho }, swaAverager(averager));
}

/** Options of {@link swad}: `nConverge` (3), `nTolerance` (6), `toleranceRatio` (0.3), `evaluateEvery`, `sam` (false), `rho`, and the settings. */
export type SwadPresetOptions = PresetSettings & SwadOptions & WithSam;

/**
 * SWAD — Cha, Chun, Lee, Cho, Park, Lee & Park, "SWAD: Domain Generalization by Seeking Flat
 * Minima", NeurIPS 2021: a dense average of every update inside the window the validation loss
 * decides. `sharpnessAware({ base, perturbation: gradient({ rho: 0 }), schedule: randomly({ p: 0 }),
 * averager: swad({ nConverge, nTolerance, toleranceRatio, evaluateEvery }) })` (`sam: true`: SAM
 * steps). Defaults N_s = 3, N_e = 6, r = 0.3. It needs validation losses: under `model.fit` pass
 * `validationData` and `optimizer.averager!.callback()`; in a custom loop call
 * `(optimizer.averager!.component as SwadAverager).observeValidation(loss)`.
 *
 * @example
 * ```ts
 * const optimizer = swad({ base: tf.train.adam(5e-5) });
 * await model.fit(x, y, { epochs: 20, validationData: [xVal, yVal], callbacks: [optimizer.averager!.callback()] });
 * ```
 */
export function swad(options: SwadPresetOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<SwadOptions & WithSam>(options, 'swad', ['nConverge', 'nTolerance', 'toleranceRatio', 'evaluateEvery', ...SAM_KEYS], false);
  const { sam, rho, ...averager } = method;
  return withAverager('swad', settings, { sam, rho }, swadAverager(averager));
}

/** Options of {@link ema}: `decay` (0.999), `warmup` (true), `sam` (false), `rho`, and the settings. */
export type EmaPresetOptions = PresetSettings & EmaOptions & WithSam;

/**
 * EMA of the weights (Polyak averaging with an exponential window; timm's `ModelEmaV3` warmup):
 * w̄ ← d_t w̄ + (1 − d_t) w after every update. `sharpnessAware({ base, perturbation: gradient({ rho: 0 }),
 * schedule: randomly({ p: 0 }), averager: ema({ decay, warmup }) })` (`sam: true`: SAM steps).
 * Defaults decay 0.999, warmup on. One pass per step (two with `sam: true`).
 *
 * @example
 * ```ts
 * const optimizer = ema({ base: tf.train.adam(1e-3), decay: 0.999, sam: true, rho: 0.05 });
 * ```
 */
export function ema(options: EmaPresetOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<EmaOptions & WithSam>(options, 'ema', ['decay', 'warmup', ...SAM_KEYS], false);
  const { sam, rho, ...averager } = method;
  return withAverager('ema', settings, { sam, rho }, emaAverager(averager));
}

/** Options of {@link mesa}: `decay` (0.9998), `lambda` (0.8), `tau` (5), `warmup` (false), `sam` (false), `rho`, and the settings. */
export type MesaPresetOptions = PresetSettings & MesaOptions & WithSam;

/**
 * MESA — Du, Zhou, Feng, Tan & Goh, "Sharpness-Aware Training for Free", NeurIPS 2022: the EMA
 * model as a teacher and the trajectory loss λτ²·KL(softmax(f_EMA/τ) ‖ softmax(f/τ)) in place of
 * SAM's second pass. `sharpnessAware({ base, perturbation: gradient({ rho: 0 }), schedule:
 * randomly({ p: 0 }), averager: mesa({ decay, lambda, tau, warmup }) })`. Defaults decay 0.9998,
 * λ = 0.8, τ = 5. One pass plus one teacher forward per step.
 *
 * The trajectory loss needs the teacher, which needs the model: before the first step build it
 * with `(optimizer.averager!.component as MesaAverager).teach(student)` and compile the model it
 * returns with `averager.loss(crossEntropy)`. A step before `teach` throws a `FlatminError` naming
 * `mesa` that shows these calls (without them this would be a plain EMA, silently).
 *
 * @example
 * ```ts
 * import type { MesaAverager } from '@flatmin/average-ema';
 * const optimizer = mesa({ base: tf.train.adam(1e-3) });
 * const averager = optimizer.averager!.component as MesaAverager;
 * const { model } = averager.teach(student); // student outputs logits
 * model.compile({ optimizer, loss: averager.loss((y, logits) => tf.losses.softmaxCrossEntropy(y, logits)) });
 * await model.fit(x, y, { epochs: 5, callbacks: [optimizer.averager!.callback()] });
 * ```
 */
export function mesa(options: MesaPresetOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<MesaOptions & WithSam>(options, 'mesa', ['decay', 'lambda', 'tau', 'warmup', ...SAM_KEYS], false);
  const { sam, rho, ...rest } = method;
  const averager = mesaAverager(rest);
  let taught = false;
  const teach = averager.teach;
  averager.teach = (student) => {
    const built = teach(student);
    taught = true;
    return built;
  };
  const guard: PresetGuard = {
    beforeStep: () => {
      if (taught) return;
      throw new FlatminError(
        'mesa (MESA, Du et al., NeurIPS 2022) needs its EMA teacher before the first step, and none was built. Build it and compile the model it returns: ' +
          'const averager = optimizer.averager!.component as MesaAverager; const { model } = averager.teach(student); ' +
          'model.compile({ optimizer, loss: averager.loss((y, logits) => tf.losses.softmaxCrossEntropy(y, logits)) }); then model.fit(x, y, { callbacks: [optimizer.averager!.callback()] }).',
      );
    },
  };
  return withAverager('mesa', settings, { sam, rho }, averager, guard);
}
