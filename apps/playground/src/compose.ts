/**
 * The composer: an optimizer from the parts a user picks on the page — a perturbation with
 * its radius, a schedule, a combiner and an averager — over plain SGD.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { ema } from '@flatmin/average-ema';
import { swa } from '@flatmin/average-swa';
import { adversarial, mix, sharpnessAware, type SharpnessAwareOptimizer, always } from '@flatmin/core';
import { adaptive } from '@flatmin/perturb-adaptive';
import { friendly } from '@flatmin/perturb-friendly';
import { gradient } from '@flatmin/perturb-gradient';
import { gaussian } from '@flatmin/perturb-noise';
import { everyK } from '@flatmin/schedule-every-k';
import { randomly } from '@flatmin/schedule-random';

/** The perturbations the composer offers. */
export const PERTURBATIONS = {
  gradient: 'gradient — SAM: ε = ρ g/‖g‖',
  adaptive: 'adaptive — ASAM: ε = ρ T²g/‖Tg‖, T = |w| + η',
  friendly: 'friendly — FriendlySAM: the running mean of g removed',
  gaussian: 'gaussian — random weight noise, σ = ρ',
} as const;
/** The schedules the composer offers. */
export const SCHEDULES = {
  always: 'always — every step sharp',
  everyK: 'everyK — LookSAM: sharp every k steps',
  randomly: 'randomly — RST: sharp with probability p',
} as const;
/** The combiners the composer offers. */
export const COMBINERS = {
  adversarial: 'adversarial — g_adv (SAM)',
  mix: 'mix — λ g_adv + (1 − λ) g (RWP)',
} as const;
/** The averagers the composer offers. */
export const AVERAGERS = {
  none: 'none',
  ema: 'ema — exponential moving average',
  swa: 'swa — equal average from the middle of the run',
} as const;

/** What the composer's fields hold. */
export interface Composition {
  perturbation: keyof typeof PERTURBATIONS;
  rho: number;
  schedule: keyof typeof SCHEDULES;
  /** everyK's k. */
  k: number;
  /** randomly's p. */
  p: number;
  combiner: keyof typeof COMBINERS;
  /** mix's λ. */
  lambda: number;
  averager: keyof typeof AVERAGERS;
}

/** What every run shares: the base optimizer's learning rate, the step count and the seed. */
export interface RunSettings {
  learningRate: number;
  steps: number;
  seed: number;
}

/** The composer's starting values: SAM. */
export const DEFAULT_COMPOSITION: Composition = {
  perturbation: 'gradient',
  rho: 0.05,
  schedule: 'always',
  k: 5,
  p: 0.5,
  combiner: 'adversarial',
  lambda: 0.5,
  averager: 'none',
};

/** The optimizer for a composition (every part from its package's factory). */
export function compose(c: Composition, settings: RunSettings): SharpnessAwareOptimizer {
  const perturbation =
    c.perturbation === 'gradient'
      ? gradient({ rho: c.rho })
      : c.perturbation === 'adaptive'
        ? adaptive({ rho: c.rho })
        : c.perturbation === 'friendly'
          ? friendly({ rho: c.rho })
          : gaussian({ sigma: c.rho });
  const schedule = c.schedule === 'everyK' ? everyK({ k: c.k }) : c.schedule === 'randomly' ? randomly({ p: c.p }) : always();
  const combiner = c.combiner === 'mix' ? mix({ lambda: c.lambda }) : adversarial();
  const base = tf.train.sgd(settings.learningRate);
  const common = { base, perturbation, schedule, combiner, seed: settings.seed };
  if (c.averager === 'ema') return sharpnessAware({ ...common, averager: ema({ decay: 0.95 }) });
  if (c.averager === 'swa') return sharpnessAware({ ...common, averager: swa({ start: Math.floor(settings.steps / 2) }) });
  return sharpnessAware(common);
}

/** One line naming the parts, as code. */
export function describeComposition(c: Composition): string {
  const perturbation = c.perturbation === 'gaussian' ? `gaussian({ sigma: ${c.rho} })` : `${c.perturbation}({ rho: ${c.rho} })`;
  const schedule = c.schedule === 'everyK' ? `everyK({ k: ${c.k} })` : c.schedule === 'randomly' ? `randomly({ p: ${c.p} })` : 'always()';
  const combiner = c.combiner === 'mix' ? `mix({ lambda: ${c.lambda} })` : 'adversarial()';
  const averager = c.averager === 'none' ? '' : c.averager === 'ema' ? ', averager: ema({ decay: 0.95 })' : ', averager: swa({ start: steps / 2 })';
  return `sharpnessAware({ base: tf.train.sgd(lr), perturbation: ${perturbation}, schedule: ${schedule}, combiner: ${combiner}${averager} })`;
}
