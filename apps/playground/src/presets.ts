/**
 * The preset menu: the `flatmin` package's presets (each a composition of the part packages with
 * its paper's defaults), with the page's learning rate, ρ and seed. The only place the page knows
 * what "SAM" or "LookSAM" means.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as flatmin from 'flatmin';

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
    parts: 'sam({ base, rho }) = gradient({ rho })',
    usesRho: true,
    create: (o) => flatmin.sam({ base: sgd(o), rho: o.rho, seed: o.seed }),
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
    create: (o) => flatmin.asam({ base: sgd(o), rho: o.rho, eta: 0.01, seed: o.seed }),
  },
  {
    id: 'rwp',
    label: 'RWP',
    paper: 'Li et al., 2023 (random weight perturbation)',
    parts: 'gaussian({ sigma: rho }) + mix({ lambda: 0.5 })',
    usesRho: true,
    create: (o) => flatmin.rwp({ base: sgd(o), sigma: o.rho, scale: 'standard', lambda: 0.5, seed: o.seed }),
  },
  {
    id: 'looksam',
    label: 'LookSAM',
    paper: 'Liu et al., CVPR 2022',
    parts: 'gradient({ rho }) + everyK({ k: 5, alpha: 0.7 })',
    usesRho: true,
    create: (o) => flatmin.lookSam({ base: sgd(o), rho: o.rho, k: 5, alpha: 0.7, seed: o.seed }),
  },
  {
    id: 'friendly',
    label: 'FriendlySAM',
    paper: 'Li et al., CVPR 2024',
    parts: 'friendly({ rho, sigma: 1, lambda: 0.9 })',
    usesRho: true,
    create: (o) => flatmin.fsam({ base: sgd(o), rho: o.rho, seed: o.seed }),
  },
  {
    id: 'rst',
    label: 'RST',
    paper: 'Zhao et al., 2022 (randomized sharpness-aware training)',
    parts: 'gradient({ rho }) + randomly({ p: 0.5 })',
    usesRho: true,
    create: (o) => flatmin.rst({ base: sgd(o), rho: o.rho, p: 0.5, seed: o.seed }),
  },
  {
    id: 'sam-swa',
    label: 'SAM + SWA',
    paper: 'Izmailov et al., UAI 2018 (SWA) over SAM',
    parts: 'gradient({ rho }) + swa({ start: steps / 2 })',
    usesRho: true,
    create: (o) => flatmin.swa({ base: sgd(o), sam: true, rho: o.rho, start: Math.floor(o.steps / 2), seed: o.seed }),
  },
  {
    id: 'sam-ema',
    label: 'SAM + EMA',
    paper: 'an exponential moving average of the weights over SAM',
    parts: 'gradient({ rho }) + ema({ decay: 0.95 })',
    usesRho: true,
    create: (o) => flatmin.ema({ base: sgd(o), sam: true, rho: o.rho, decay: 0.95, seed: o.seed }),
  },
];

/** Look a preset up by id. */
export function presetById(id: string): Preset {
  const found = PRESETS.find((p) => p.id === id);
  if (found === undefined) throw new Error(`unknown preset '${id}' (known: ${PRESETS.map((p) => p.id).join(', ')})`);
  return found;
}
