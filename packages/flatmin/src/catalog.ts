/**
 * The catalog of presets: for each, the paper, its parts, its cost per step and what it needs from
 * the training loop (what `flatmin list` prints).
 *
 * @module
 */
import type { SharpnessAwareOptimizer } from '@flatmin/core';
import type { PresetSettings } from './preset.js';
import { ema, mesa, swa, swad } from './averagers.js';
import { imbSam } from './imbalanced.js';
import { flatLora, lpfSgd, marwp, rwp } from './noise.js';
import { asam, fisherSam, fsam, ogSam, sam, vasso } from './perturbations.js';
import { gsam, lets } from './radius.js';
import { aeSam, lookSam, rst } from './schedules.js';
import { esam, ssamD, ssamF } from './sparse.js';

/**
 * What a preset needs from the training loop:
 * - `'closure'`: nothing more than a loss closure — `model.fit` works;
 * - `'perSample'`: per-sample losses, `{ loss, perSample }` from a custom loop's closure;
 * - `'parts'`: named loss parts (`classSplit`), a custom loop;
 * - `'validation'`: a validation-loss closure given as an option (then `model.fit` works);
 * - `'validationData'`: validation losses during training (`fit`'s `validationData` or `observeValidation`);
 * - `'teacher'`: the EMA teacher built from the model before the first step (MESA's `teach`).
 */
export type PresetNeeds = 'closure' | 'perSample' | 'parts' | 'validation' | 'validationData' | 'teacher';

/** One entry of {@link presets}. */
export interface PresetInfo {
  /** The preset's function name, e.g. `'lookSam'`. */
  readonly name: string;
  /** The method's name in the paper, e.g. `'LookSAM'`. */
  readonly method: string;
  /** The paper's authors, as cited. */
  readonly authors: string;
  /** The paper's title. */
  readonly paper: string;
  /** Where it appeared, e.g. `'ICLR'` (or `'arXiv'`). */
  readonly venue: string;
  /** The year it appeared. */
  readonly year: number;
  /** The parts it composes, as `package: factory(...)`. */
  readonly parts: readonly string[];
  /** Forward-backward passes per step with the defaults, in words (e.g. `'1 + 1/k'`). */
  readonly passes: string;
  /** What it needs from the training loop (see {@link PresetNeeds}). */
  readonly needs: PresetNeeds;
  /** The preset itself: `{ base, ...the paper's keys }` (typed precisely on the named export, e.g. {@link sam}). */
  create(options: PresetSettings & Record<string, unknown>): SharpnessAwareOptimizer;
}

/** An entry whose `create` forwards to `preset`, which checks the options itself (unknown keys are refused by name). */
function entry<O>(info: Omit<PresetInfo, 'create'>, preset: (options: O) => SharpnessAwareOptimizer): PresetInfo {
  return { ...info, create: (options) => preset(options as unknown as O) };
}

const G = '@flatmin/perturb-gradient';
const PLAIN = '@flatmin/schedule-random: randomly({ p: 0 })';

const entries: readonly PresetInfo[] = [
  entry({ name: 'sam', method: 'SAM', authors: 'Foret, Kleiner, Mobahi & Neyshabur', paper: 'Sharpness-Aware Minimization for Efficiently Improving Generalization', venue: 'ICLR', year: 2021, parts: [`${G}: gradient({ rho, p })`], passes: '2', needs: 'closure' }, sam),
  entry({ name: 'asam', method: 'ASAM', authors: 'Kwon, Kim, Park & Choi', paper: 'ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant Learning of Deep Neural Networks', venue: 'ICML', year: 2021, parts: ['@flatmin/perturb-adaptive: adaptive({ rho, eta, granularity, adaptWhere })'], passes: '2', needs: 'closure' }, asam),
  entry({ name: 'fisherSam', method: 'Fisher SAM', authors: 'Kim, Li, Hu & Hospedales', paper: 'Fisher SAM: Information Geometry and Sharpness Aware Minimisation', venue: 'ICML', year: 2022, parts: ['@flatmin/perturb-adaptive: fisher({ rho, eta })'], passes: '2', needs: 'closure' }, fisherSam),
  entry({ name: 'fsam', method: 'FriendlySAM', authors: 'Li, Zhou, He, Cheng & Huang', paper: 'Friendly Sharpness-Aware Minimization', venue: 'CVPR', year: 2024, parts: ['@flatmin/perturb-friendly: friendly({ rho, sigma, lambda, variant })'], passes: '2', needs: 'closure' }, fsam),
  entry({ name: 'vasso', method: 'VaSSO', authors: 'Li & Giannakis', paper: 'Enhancing Sharpness-Aware Optimization Through Variance Suppression', venue: 'NeurIPS', year: 2023, parts: ['@flatmin/perturb-friendly: varianceSuppressed({ rho, theta })'], passes: '2', needs: 'closure' }, vasso),
  entry({ name: 'ssamF', method: 'SSAM-F', authors: 'Mi, Shen, Ren, Zhou, Sun, Ji & Tao', paper: 'Make Sharpness-Aware Minimization Stronger: A Sparsified Perturbation Approach', venue: 'NeurIPS', year: 2022, parts: [`${G}: gradient({ rho })`, '@flatmin/perturb-sparse: sparse(inner, fisherMask({ sparsity, updateEvery, samples }), { normalize })'], passes: '2 (+ samples on a mask refresh with per-sample losses)', needs: 'closure' }, ssamF),
  entry({ name: 'ssamD', method: 'SSAM-D', authors: 'Mi, Shen, Ren, Zhou, Sun, Ji & Tao', paper: 'Make Sharpness-Aware Minimization Stronger: A Sparsified Perturbation Approach', venue: 'NeurIPS', year: 2022, parts: [`${G}: gradient({ rho })`, '@flatmin/perturb-sparse: sparse(inner, dynamicMask({ sparsity, dropRate, updateEvery, totalSteps }), { normalize })'], passes: '2', needs: 'closure' }, ssamD),
  entry({ name: 'esam', method: 'ESAM', authors: 'Du, Yan, Feng, Zhou, Zhen, Goh & Tan', paper: 'Efficient Sharpness-aware Minimization for Improved Training of Neural Networks', venue: 'ICLR', year: 2022, parts: [`${G}: gradient({ rho })`, '@flatmin/perturb-sparse: sparse(inner, randomMask({ keep: beta }))', '@flatmin/perturb-sparse: dataSelection(inner, { gamma })'], passes: '2', needs: 'perSample' }, esam),
  entry({ name: 'gsam', method: 'GSAM', authors: 'Zhuang, Gong, Yuan, Cui, Adam, Dvornek, Tatikonda, Duncan & Liu', paper: 'Surrogate Gap Guided Sharpness-Aware Minimization', venue: 'ICLR', year: 2022, parts: [`${G}: gradient()`, '@flatmin/core: surrogateGap({ alpha })', '@flatmin/schedule-rho: rhoSchedule(proportionalToLearningRate({ rhoMin, rhoMax, lrMin, lrMax }))'], passes: '2', needs: 'closure' }, gsam),
  entry({ name: 'rwp', method: 'RWP', authors: 'Li, Tao, Yan, Lei, Wu, Fang, He & Huang', paper: 'Revisiting Random Weight Perturbation for Efficiently Improving Generalization', venue: 'TMLR', year: 2024, parts: ["@flatmin/perturb-noise: gaussian({ sigma, scale: 'filter' })", '@flatmin/core: mix({ lambda })'], passes: '2', needs: 'closure' }, rwp),
  entry({ name: 'lpfSgd', method: 'LPF-SGD', authors: 'Bisla, Wang & Choromanska', paper: 'Low-Pass Filtering SGD for Recovering Flat Optima in the Deep Learning Optimization Landscape', venue: 'AISTATS', year: 2022, parts: ['@flatmin/perturb-noise: filterNoise({ gamma, increase, samples, totalSteps })'], passes: '1 (samples with samples > 1)', needs: 'closure' }, lpfSgd),
  entry({ name: 'flatLora', method: 'Flat-LoRA', authors: 'Li, He, Li, Wang, Shang & Huang', paper: 'Flat-LoRA: Low-Rank Adaptation over a Flat Loss Landscape', venue: 'ICML', year: 2025, parts: ['@flatmin/perturb-noise: filterNoise({ gamma: sigma, perInput: true, totalSteps })'], passes: '1', needs: 'closure' }, flatLora),
  entry({ name: 'marwp', method: 'mARWP', authors: 'Li, Tao, Yan, Lei, Wu, Fang, He & Huang', paper: 'Revisiting Random Weight Perturbation for Efficiently Improving Generalization', venue: 'TMLR', year: 2024, parts: ['@flatmin/perturb-noise: fisherNoise({ sigma, eta, decay })', '@flatmin/core: mix({ lambda })'], passes: '2', needs: 'closure' }, marwp),
  entry({ name: 'lookSam', method: 'LookSAM', authors: 'Liu, Mai, Chen, Hsieh & You', paper: 'Towards Efficient and Scalable Sharpness-Aware Minimization', venue: 'CVPR', year: 2022, parts: [`${G}: gradient({ rho })`, '@flatmin/schedule-every-k: everyK({ k, alpha, granularity })'], passes: '1 + 1/k', needs: 'closure' }, lookSam),
  entry({ name: 'rst', method: 'RST', authors: 'Zhao, Zhang & Hu', paper: 'Randomized Sharpness-Aware Training for Boosting Computational Efficiency in Deep Learning', venue: 'arXiv', year: 2022, parts: [`${G}: gradient({ rho })`, '@flatmin/schedule-random: randomly({ p })'], passes: '1 + p', needs: 'closure' }, rst),
  entry({ name: 'aeSam', method: 'AE-SAM', authors: 'Jiang, Yang, Zhang & Kwok', paper: 'An Adaptive Policy to Employ Sharpness-Aware Minimization', venue: 'ICLR', year: 2023, parts: [`${G}: gradient({ rho })`, '@flatmin/schedule-adaptive: adaptivePolicy({ delta, lambda1, lambda2, totalSteps })'], passes: '1 + the fraction of sharp steps', needs: 'closure' }, aeSam),
  entry({ name: 'lets', method: 'LETS', authors: 'Wang, Jiang, Fu & Zhang', paper: 'Enhancing Sharpness-Aware Minimization by Learning Perturbation Radius', venue: 'ECML PKDD', year: 2024, parts: [`${G}: gradient()`, '@flatmin/schedule-rho: learnedRho({ rho0, lr, every, validation })'], passes: '2 + 1 validation forward-backward', needs: 'validation' }, lets),
  entry({ name: 'imbSam', method: 'ImbSAM', authors: 'Zhou, Qu, Xu & Shen', paper: 'ImbSAM: A Closer Look at Sharpness-Aware Minimization in Class-Imbalanced Recognition', venue: 'ICCV', year: 2023, parts: [`${G}: gradient({ rho })`, "@flatmin/core: sharpOn: 'tail' + classSplit(perSample, labels, { tail })"], passes: '3', needs: 'parts' }, imbSam),
  entry({ name: 'swa', method: 'SWA', authors: 'Izmailov, Podoprikhin, Garipov, Vetrov & Wilson', paper: 'Averaging Weights Leads to Wider Optima and Better Generalization', venue: 'UAI', year: 2018, parts: [PLAIN, '@flatmin/average-swa: swa({ start, every })'], passes: '1 (2 with sam: true)', needs: 'closure' }, swa),
  entry({ name: 'swad', method: 'SWAD', authors: 'Cha, Chun, Lee, Cho, Park, Lee & Park', paper: 'SWAD: Domain Generalization by Seeking Flat Minima', venue: 'NeurIPS', year: 2021, parts: [PLAIN, '@flatmin/average-swad: swad({ nConverge, nTolerance, toleranceRatio, evaluateEvery })'], passes: '1 (2 with sam: true)', needs: 'validationData' }, swad),
  entry({ name: 'ema', method: 'EMA', authors: 'Polyak & Juditsky; timm (ModelEmaV3 warmup)', paper: 'Acceleration of Stochastic Approximation by Averaging', venue: 'SIAM J. Control Optim.', year: 1992, parts: [PLAIN, '@flatmin/average-ema: ema({ decay, warmup })'], passes: '1 (2 with sam: true)', needs: 'closure' }, ema),
  entry({ name: 'mesa', method: 'MESA', authors: 'Du, Zhou, Feng, Tan & Goh', paper: 'Sharpness-Aware Training for Free', venue: 'NeurIPS', year: 2022, parts: [PLAIN, '@flatmin/average-ema: mesa({ decay, lambda, tau, warmup }) + teach(student) + loss(base)'], passes: '1 + 1 teacher forward (2 + 2 with sam: true)', needs: 'teacher' }, mesa),
  entry({ name: 'ogSam', method: 'OG-SAM (SAM by lookahead)', authors: 'Yu, Zhang & Kwok', paper: 'Improving Sharpness-Aware Minimization by Lookahead', venue: 'ICML', year: 2024, parts: [`${G}: gradient({ rho, p, from: 'previous' })`], passes: '1', needs: 'closure' }, ogSam),
];

/**
 * Every preset by name: its paper, the parts it composes, its passes per step and what it needs
 * from the training loop, and the preset function itself (`presets.sam.create({ base })`).
 *
 * @example
 * ```ts
 * import { presets } from 'flatmin';
 * for (const p of Object.values(presets)) console.log(`${p.name}: ${p.method} (${p.venue} ${p.year}), ${p.passes} passes, needs ${p.needs}`);
 * ```
 */
export const presets: Readonly<Record<string, PresetInfo>> = Object.freeze(Object.fromEntries(entries.map((entry) => [entry.name, Object.freeze(entry)])));
