/**
 * The preset menu. Every preset is built here from the part factories — the only place the
 * page knows what "SAM" or "LookSAM" means — so that switching to the `flatmin` presets
 * package later changes this one file.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { ema } from '@flatmin/average-ema';
import { swa } from '@flatmin/average-swa';
import { mix, sharpnessAware } from '@flatmin/core';
import { adaptive } from '@flatmin/perturb-adaptive';
import { friendly } from '@flatmin/perturb-friendly';
import { gradient } from '@flatmin/perturb-gradient';
import { gaussian } from '@flatmin/perturb-noise';
import { everyK } from '@flatmin/schedule-every-k';
import { randomly } from '@flatmin/schedule-random';

/** What a preset is given: the base SGD's learning rate, the radius (σ for noise), the run's length and seed. */
export interface PresetOptions {
  learningRate: number;
  rho: number;
  steps: number;
  seed: number;
}

/** One entry of the menu. */
export interface Preset {
  readonly id: string;
  readonly label: string;
  /** The paper. */
  readonly paper: string;
  /** The composition, as code. */
  readonly parts: string;
  /** Whether the page's ρ field applies (plain SGD has none). */
  readonly usesRho: boolean;
  readonly create: (options: PresetOptions) => tf.Optimizer;
}

const sgd = (o: PresetOptions) => tf.train.sgd(o.learningRate);

/** The presets, in menu order. */
export const PRESETS: readonly Preset[] = [
  {
    id: 'sam',
    label: 'SAM',
    paper: 'Foret et al., ICLR 2021',
    parts: 'gradient({ rho })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: gradient({ rho: o.rho }), seed: o.seed }),
  },
  {
    id: 'sgd',
    label: 'SGD',
    paper: 'plain gradient descent, the baseline',
    parts: 'tf.train.sgd(lr)',
    usesRho: false,
    create: (o) => sgd(o),
  },
  {
    id: 'asam',
    label: 'ASAM',
    paper: 'Kwon et al., ICML 2021',
    parts: 'adaptive({ rho, eta: 0.01 })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: adaptive({ rho: o.rho, eta: 0.01 }), seed: o.seed }),
  },
  {
    id: 'rwp',
    label: 'RWP',
    paper: 'Li et al., 2023 (random weight perturbation)',
    parts: 'gaussian({ sigma: rho }) + mix({ lambda: 0.5 })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: gaussian({ sigma: o.rho }), combiner: mix({ lambda: 0.5 }), seed: o.seed }),
  },
  {
    id: 'looksam',
    label: 'LookSAM',
    paper: 'Liu et al., CVPR 2022',
    parts: 'gradient({ rho }) + everyK({ k: 5, alpha: 0.7 })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: gradient({ rho: o.rho }), schedule: everyK({ k: 5, alpha: 0.7 }), seed: o.seed }),
  },
  {
    id: 'friendly',
    label: 'FriendlySAM',
    paper: 'Li et al., CVPR 2024',
    parts: 'friendly({ rho, sigma: 1, lambda: 0.9 })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: friendly({ rho: o.rho }), seed: o.seed }),
  },
  {
    id: 'rst',
    label: 'RST',
    paper: 'Zhao et al., 2022 (randomized sharpness-aware training)',
    parts: 'gradient({ rho }) + randomly({ p: 0.5 })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: gradient({ rho: o.rho }), schedule: randomly({ p: 0.5 }), seed: o.seed }),
  },
  {
    id: 'sam-swa',
    label: 'SAM + SWA',
    paper: 'Izmailov et al., UAI 2018 (SWA) over SAM',
    parts: 'gradient({ rho }) + swa({ start: steps / 2 })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: gradient({ rho: o.rho }), averager: swa({ start: Math.floor(o.steps / 2) }), seed: o.seed }),
  },
  {
    id: 'sam-ema',
    label: 'SAM + EMA',
    paper: 'an exponential moving average of the weights over SAM',
    parts: 'gradient({ rho }) + ema({ decay: 0.95 })',
    usesRho: true,
    create: (o) => sharpnessAware({ base: sgd(o), perturbation: gradient({ rho: o.rho }), averager: ema({ decay: 0.95 }), seed: o.seed }),
  },
];

/** Look a preset up by id. */
export function presetById(id: string): Preset {
  const found = PRESETS.find((p) => p.id === id);
  if (found === undefined) throw new Error(`unknown preset '${id}' (known: ${PRESETS.map((p) => p.id).join(', ')})`);
  return found;
}
