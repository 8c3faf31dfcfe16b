/**
 * The report of `flatmin bench --repro`: the runs summarised per section (mean ± standard
 * deviation over the seeds, min–max, differences paired by seed against the baseline), each
 * paper's claim with what the runs say about it, and the pictures (Vega-Lite → SVG and PNG).
 *
 * @module
 */
import { type Picture, plotChart, plotLine } from '@flatmin/landscape';
import type { ReproReport, ReproRun } from './repro.js';


/** Mean, sample standard deviation, min and max of some numbers. */
export interface Summary {
  /** The number of values. */
  readonly n: number;
  /** Their mean. */
  readonly mean: number;
  /** Their sample standard deviation (0 for one value). */
  readonly sd: number;
  /** The smallest. */
  readonly min: number;
  /** The largest. */
  readonly max: number;
}

/**
 * Summarise `values`.
 *
 * @example
 * ```ts
 * import { summarize } from 'flatmin/cli';
 *
 * summarize([1, 2, 3]); // { n: 3, mean: 2, sd: 1, min: 1, max: 3 }
 * ```
 */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n, mean: Number.NaN, sd: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, min: Math.min(...values), max: Math.max(...values) };
}

/** A method's runs against a baseline's on the same seeds: the differences, paired by seed. */
export interface Paired {
  /** The summary of `value(method) − value(baseline)` per seed. */
  readonly difference: Summary;
  /** Seeds on which the method's value was larger. */
  readonly wins: number;
  /** Seeds compared. */
  readonly n: number;
}

/**
 * Pair `method`'s values with `baseline`'s by seed (seeds only one side has are left out).
 *
 * @example
 * ```ts
 * import { paired } from 'flatmin/cli';
 *
 * paired([{ seed: 1, value: 0.9 }, { seed: 2, value: 0.8 }], [{ seed: 1, value: 0.85 }, { seed: 2, value: 0.82 }]);
 * // difference.mean 0.015, wins 1 of 2
 * ```
 */
export function paired(method: ReadonlyArray<{ seed: number; value: number }>, baseline: ReadonlyArray<{ seed: number; value: number }>): Paired {
  const base = new Map(baseline.map((b) => [b.seed, b.value]));
  const differences = method.filter((m) => base.has(m.seed)).map((m) => m.value - base.get(m.seed)!);
  return { difference: summarize(differences), wins: differences.filter((d) => d > 0).length, n: differences.length };
}

/**
 * What paired differences say about a claim that the method's value is larger: `'holds'` (larger
 * on every seed), `'mostly'` (larger on average and on most seeds), `'no'` (not larger on average),
 * `'mixed'` otherwise.
 *
 * @example
 * ```ts
 * import { verdict } from 'flatmin/cli';
 *
 * verdict({ difference: { n: 3, mean: 0.01, sd: 0.002, min: 0.008, max: 0.012 }, wins: 3, n: 3 }); // 'holds'
 * ```
 */
export function verdict(p: Paired): 'holds' | 'mostly' | 'mixed' | 'no' {
  if (p.n === 0 || !(p.difference.mean > 0)) return 'no';
  if (p.wins === p.n) return 'holds';
  return p.wins > p.n / 2 ? 'mostly' : 'mixed';
}

const VERDICT_TEXT = { holds: 'yes, on every seed', mostly: 'yes on average, not on every seed', mixed: 'on average only (most seeds not)', no: 'no' } as const;

const pm = (s: Summary, scale = 100, digits = 2) => `${(scale * s.mean).toFixed(digits)} ± ${(scale * s.sd).toFixed(digits)}`;
const signed = (x: number, digits = 2) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: readonly ('l' | 'r')[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const rule = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}

/** The runs of one data set, grouped by method. */
function byMethod(report: ReproReport, data: string): Map<string, ReproRun[]> {
  const groups = new Map<string, ReproRun[]>();
  for (const run of report.runs.filter((r) => r.data === data)) groups.set(run.method, [...(groups.get(run.method) ?? []), run]);
  return groups;
}

const valuesOf = (runs: readonly ReproRun[] | undefined, pick: (run: ReproRun) => number | undefined) =>
  (runs ?? []).flatMap((run) => {
    const value = pick(run);
    return value === undefined ? [] : [{ seed: run.seed, value }];
  });

const accuracy = (run: ReproRun) => run.testAccuracy;
/** The mean of the per-digit test accuracies over `classes`. */
const classMean = (classes: readonly number[]) => (run: ReproRun) => classes.reduce((sum, c) => sum + run.perClassAccuracy[c]!, 0) / classes.length;

const TAIL = [7, 8, 9];
const HEAD = [0, 1, 2, 3, 4, 5, 6];

/**
 * The Markdown report of a {@link ReproReport}; `pictures` are the names of the pictures written
 * next to it (`name.svg`, `name.png`), linked where their section is.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { reproMarkdown } from 'flatmin/cli';
 *
 * const report = JSON.parse(readFileSync('repro/repro.json', 'utf8'));
 * console.log(reproMarkdown(report, []));
 * ```
 */
export function reproMarkdown(report: ReproReport, pictures: readonly string[]): string {
  const s = report.settings;
  const parts: string[] = [];
  const picture = (name: string, alt: string) => (pictures.includes(name) ? `\n![${alt}](${name}.svg)\n` : '');
  parts.push(
    '# flatmin: the papers\' claims on MNIST, in small',
    '',
    `Made by \`flatmin ${report.argv.length > 0 ? report.argv.join(' ') : 'bench --repro'}\` on ${report.date.slice(0, 10)}, ${(report.seconds / 60).toFixed(1)} min on ${report.machine.cpus} × ${report.machine.cpuModel} (${report.machine.platform}, Node ${report.machine.node}), tfjs backend \`${report.backend}\`.`,
    '',
    `Setup: real MNIST digits (the \`mnist\` package; the demo's fixed class-balanced split), the first ${s.train} training samples, ${s.test} clean test samples; ` +
      `an MLP 784-256-256-10 (ReLU, softmax), categorical cross-entropy; ${s.epochs} epochs of batch ${s.batch} in a fixed order (no shuffling); ` +
      `every optimizer's base is plain SGD at learning rate ${s.lr}, each preset with its paper's defaults. ` +
      `Seeds ${Array.from({ length: s.seeds }, (_, i) => s.seed + i).join(', ')}: a seed fixes the initial weights (the same for every method), the optimizer's randomness and the label noise. ` +
      'Accuracies are in %, as mean ± standard deviation over the seeds; a difference "Δ" is paired by seed (same initial weights and data), with how many seeds it is positive on.',
    '',
  );
  if (s.quick) parts.push('**This is a `--quick` run: a smoke test of the pipeline at a tiny budget, not evidence for or against any claim.**', '');

  if (report.methods.labelNoise) {
    const levels = Object.keys(report.data).filter((k) => k.startsWith('noise'));
    const methods = report.methods.labelNoise;
    const groups = new Map(levels.map((level) => [level, byMethod(report, level)]));
    parts.push('## Robustness to label noise', '', 'Claim (Foret et al. 2021, Table 4): SAM is much more robust to noisy training labels than SGD; the SAM family inherits it. Here a fraction of the training labels is replaced by a uniformly drawn other digit (a new draw per seed); the test labels are clean.', '');
    parts.push(
      table(
        ['method', ...levels.map((l) => `${l.slice(5)} % noise`), ...levels.map((l) => `Δ vs SGD at ${l.slice(5)} %`)],
        methods.map((m) => [
          m.label,
          ...levels.map((l) => pm(summarize(valuesOf(groups.get(l)!.get(m.key), accuracy).map((v) => v.value)))),
          ...levels.map((l) => {
            if (m.key === 'sgd') return '';
            const p = paired(valuesOf(groups.get(l)!.get(m.key), accuracy), valuesOf(groups.get(l)!.get('sgd'), accuracy));
            return `${signed(100 * p.difference.mean)} (${p.wins}/${p.n})`;
          }),
        ]),
      ),
      '',
    );
    const verdicts = methods.filter((m) => m.key !== 'sgd').map((m) => {
      const v = levels.map((l) => `${l.slice(5)} %: ${VERDICT_TEXT[verdict(paired(valuesOf(groups.get(l)!.get(m.key), accuracy), valuesOf(groups.get(l)!.get('sgd'), accuracy)))]}`);
      return `- ${m.label} above SGD? ${v.join('; ')}.`;
    });
    parts.push(...verdicts, picture('label-noise', 'test accuracy against the label-noise level, per method'), '');
  }

  const clean = byMethod(report, 'clean');
  if (report.methods.flatness) {
    parts.push('## Flatter minima', '', 'Claim (Foret et al. 2021; Kwon et al. 2021): SAM and ASAM converge to flatter minima than SGD — a smaller top Hessian eigenvalue λ_max and trace. Measured at the final weights of the clean runs on the first 1,000 training samples: λ_max by power iteration, tr(H) by Hutchinson (Hessian-vector products by finite differences of gradients: tfjs cannot differentiate softmax cross-entropy twice), average-case flatness = the mean loss increase along random filter-normalised directions of radius 0.05.', '');
    const rows = report.methods.flatness.map((m) => {
      const runs = clean.get(m.key) ?? [];
      const g = (pick: (run: ReproRun) => number | undefined) => summarize(runs.flatMap((r) => (r.geometry ? [pick(r)!] : [])));
      return [m.label, pm(g((r) => r.geometry?.lambdaMax), 1, 2), pm(g((r) => r.geometry?.trace), 1, 1), pm(g((r) => r.geometry?.flatness), 1, 4), pm(g((r) => r.geometry?.loss), 1, 4), pm(summarize(runs.map(accuracy)))];
    });
    parts.push(table(['method', 'λ_max', 'tr(H)', 'flatness (Δ loss)', 'train loss (1,000 samples)', 'test acc %'], rows), '');
    for (const m of report.methods.flatness.filter((x) => x.key !== 'sgd')) {
      const lower = (pick: (run: ReproRun) => number | undefined) =>
        verdict(paired(valuesOf(clean.get('sgd'), (r) => pick(r)).map(({ seed, value }) => ({ seed, value })), valuesOf(clean.get(m.key), (r) => pick(r))));
      parts.push(`- ${m.label} flatter than SGD? λ_max lower: ${VERDICT_TEXT[lower((r) => r.geometry?.lambdaMax)]}; trace lower: ${VERDICT_TEXT[lower((r) => r.geometry?.trace)]}; flatness lower: ${VERDICT_TEXT[lower((r) => r.geometry?.flatness)]}.`);
    }
    parts.push(picture('landscape', 'the loss along one filter-normalised random direction around the SGD, SAM and ASAM solutions'), '');
  }

  if (report.methods.efficiency) {
    parts.push(
      '## Efficiency: SAM\'s gain at a fraction of its cost',
      '',
      'Claims: LookSAM (Liu et al. 2022), RST (Zhao et al. 2022) and AE-SAM (Jiang et al. 2023) keep most of SAM\'s gain while taking the sharpness-aware gradient on a fraction of the steps; SSAM (Mi et al. 2022) matches or beats SAM with a sparse perturbation; ESAM (Du et al. 2022) matches SAM at a lower cost. "time × SGD" is the run\'s training time (CPU time of the process: the backends compute on its one thread, so a shared machine does not inflate it) over SGD\'s on the same seed; "passes" the loss forward-backward passes per step, counted; "kept" = (method − SGD) / (SAM − SGD) of the mean accuracies.',
      '',
    );
    const sgd = clean.get('sgd');
    const sam = clean.get('sam');
    const samGain = summarize(valuesOf(sam, accuracy).map((v) => v.value)).mean - summarize(valuesOf(sgd, accuracy).map((v) => v.value)).mean;
    const rows = report.methods.efficiency.map((m) => {
      const runs = clean.get(m.key) ?? [];
      const acc = summarize(runs.map(accuracy));
      const vsSam = paired(valuesOf(runs, accuracy), valuesOf(sam, accuracy));
      const ratio = summarize(runs.flatMap((r) => {
        const base = sgd?.find((b) => b.seed === r.seed);
        return base ? [r.cpuSeconds / base.cpuSeconds] : [];
      }));
      const kept = m.key === 'sgd' || m.key === 'sam' || !(samGain > 0) ? '' : `${((acc.mean - summarize(valuesOf(sgd, accuracy).map((v) => v.value)).mean) / samGain * 100).toFixed(0)} %`;
      return [
        m.label,
        pm(acc),
        m.key === 'sam' ? '' : `${signed(100 * vsSam.difference.mean)} (${vsSam.wins}/${vsSam.n})`,
        kept,
        ratio.mean.toFixed(2),
        (summarize(runs.map((r) => r.lossEvaluations / r.steps)).mean).toFixed(2),
        m.key === 'sgd' ? '' : summarize(runs.map((r) => r.sharpSteps / r.steps)).mean.toFixed(2),
      ];
    });
    parts.push(table(['method', 'test acc %', 'Δ vs SAM', 'SAM\'s gain kept', 'time × SGD', 'passes/step', 'sharp fraction'], rows), '');
    parts.push(`SAM's gain over SGD here: ${signed(100 * samGain)} points (${VERDICT_TEXT[verdict(paired(valuesOf(sam, accuracy), valuesOf(sgd, accuracy)))]}).`, picture('efficiency', 'test accuracy against the training time in SGD steps, per method'), '');
  }

  if (report.methods.averaging) {
    parts.push('## Weight averaging', '', 'Claims: SWA (Izmailov et al. 2018) and SWAD (Cha et al. 2021) find flatter, better-generalising solutions by averaging the weights along the trajectory; an EMA of the weights does the same cheaply, on top of SGD or of SAM. "last iterate" is the run\'s own weights before the average is swapped in (the same run), "averaged" the weights the averager returns; "Δ vs base" compares the averaged weights with the plain run of the same optimizer.', '');
    const rows = report.methods.averaging.filter((m) => m.key !== 'sgd' && m.key !== 'sam').map((m) => {
      const runs = clean.get(m.key) ?? [];
      const base = clean.get(m.key.endsWith('+sam') ? 'sam' : 'sgd');
      const gain = paired(valuesOf(runs, accuracy), valuesOf(runs, (r) => r.finalAccuracy));
      const vsBase = paired(valuesOf(runs, accuracy), valuesOf(base, accuracy));
      return [m.label, pm(summarize(valuesOf(runs, (r) => r.finalAccuracy).map((v) => v.value))), pm(summarize(runs.map(accuracy))), `${signed(100 * gain.difference.mean)} (${gain.wins}/${gain.n})`, `${signed(100 * vsBase.difference.mean)} (${vsBase.wins}/${vsBase.n})`];
    });
    parts.push(table(['method', 'last iterate %', 'averaged %', 'Δ averaged − last', 'Δ vs base (SGD or SAM)'], rows), '');
    parts.push(picture('averaging', 'test accuracy of the last iterate and of the averaged weights, per averager'), '');
  }

  if (report.methods.imbalance) {
    const data = report.data['longTailed'];
    const groups = byMethod(report, 'longTailed');
    parts.push(
      '## Class imbalance',
      '',
      `Claim (Zhou et al. 2023): on long-tailed data SAM's flatness helps the rare classes less than it could, and taking the sharpness-aware gradient on the tail classes' loss only (ImbSAM) improves their accuracy. Here digits ${TAIL.join(', ')} keep 1 training sample in 15 (training set per digit: ${data?.perClass.join(', ') ?? '?'}); the test set is balanced. Head = the mean per-digit accuracy over digits ${HEAD[0]}–${HEAD[HEAD.length - 1]}, tail over ${TAIL.join(', ')}.`,
      '',
    );
    const sam = groups.get('sam');
    const rows = (report.methods.imbalance ?? []).map((m) => {
      const runs = groups.get(m.key) ?? [];
      const tail = paired(valuesOf(runs, classMean(TAIL)), valuesOf(sam, classMean(TAIL)));
      return [m.label, pm(summarize(runs.map(accuracy))), pm(summarize(runs.map(classMean(HEAD)))), pm(summarize(runs.map(classMean(TAIL)))), m.key === 'sam' ? '' : `${signed(100 * tail.difference.mean)} (${tail.wins}/${tail.n})`];
    });
    parts.push(table(['method', 'test acc %', 'head %', 'tail %', 'Δ tail vs SAM'], rows), '');
    const imb = paired(valuesOf(groups.get('imbSam'), classMean(TAIL)), valuesOf(sam, classMean(TAIL)));
    parts.push(`- ImbSAM's tail accuracy above SAM's? ${VERDICT_TEXT[verdict(imb)]}.`, picture('imbalance', 'head and tail test accuracy per method on the long-tailed set'), '');
  }
  return parts.join('\n');
}

/**
 * The report's pictures (Vega-Lite, rendered with `@flatmin/landscape`'s `plotChart`/`plotLine`),
 * by file name without extension: `label-noise`, `landscape`, `efficiency`, `averaging`,
 * `imbalance` — those whose section ran.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { reproPictures } from 'flatmin/cli';
 *
 * for (const [name, { svg }] of Object.entries(await reproPictures(report))) writeFileSync(`${name}.svg`, svg);
 * ```
 */
export async function reproPictures(report: ReproReport): Promise<Record<string, Picture>> {
  const out: Record<string, Picture> = {};
  const font = { width: 640, height: 360 };
  if (report.methods.labelNoise) {
    const values = report.methods.labelNoise.flatMap((m) =>
      Object.keys(report.data)
        .filter((k) => k.startsWith('noise'))
        .map((level) => {
          const s = summarize(report.runs.filter((r) => r.data === level && r.method === m.key).map((r) => 100 * r.testAccuracy));
          return { method: m.label, noise: Number(level.slice(5)), mean: s.mean, min: s.min, max: s.max };
        }),
    );
    out['label-noise'] = await plotChart(
      {
        data: { values },
        encoding: { x: { field: 'noise', type: 'quantitative', title: 'flipped training labels (%)', scale: { zero: false } }, color: { field: 'method', type: 'nominal', title: null, sort: report.methods.labelNoise.map((m) => m.label) } },
        layer: [
          { mark: { type: 'line', point: true }, encoding: { y: { field: 'mean', type: 'quantitative', title: 'clean test accuracy (%)', scale: { zero: false } } } },
          { mark: { type: 'errorbar', ticks: true }, encoding: { y: { field: 'min', type: 'quantitative', title: 'clean test accuracy (%)' }, y2: { field: 'max' } } },
        ],
      },
      { ...font, title: 'Label noise: mean over seeds, bars min–max' },
    );
  }
  const clean = report.runs.filter((r) => r.data === 'clean');
  const lines: Record<string, { s: number[]; loss: number[] }> = {};
  for (const m of report.methods.flatness ?? []) {
    const line = clean.find((r) => r.method === m.key && r.geometry?.line)?.geometry?.line;
    if (line?.loss.every((l) => l > 0)) lines[m.label] = line!;
  }
  if (Object.keys(lines).length > 0) {
    out['landscape'] = await plotLine(lines, { ...font, log: true, title: 'Loss along a filter-normalised random direction', xTitle: 's (filter-normalised units)', yTitle: 'training loss (log)' });
  }
  if (report.methods.efficiency) {
    const values = report.methods.efficiency.map((m) => {
      const runs = clean.filter((r) => r.method === m.key);
      const ratios = runs.flatMap((r) => {
        const base = clean.find((b) => b.method === 'sgd' && b.seed === r.seed);
        return base ? [r.cpuSeconds / base.cpuSeconds] : [];
      });
      const acc = summarize(runs.map((r) => 100 * r.testAccuracy));
      return { method: m.label, time: summarize(ratios).mean, mean: acc.mean, min: acc.min, max: acc.max };
    });
    out['efficiency'] = await plotChart(
      {
        data: { values },
        encoding: { x: { field: 'time', type: 'quantitative', title: 'training time × SGD', scale: { zero: false } } },
        layer: [
          { mark: { type: 'errorbar', ticks: true }, encoding: { y: { field: 'min', type: 'quantitative', title: 'test accuracy (%)', scale: { zero: false } }, y2: { field: 'max' }, color: { field: 'method', type: 'nominal', legend: null } } },
          { mark: { type: 'point', filled: true, size: 60 }, encoding: { y: { field: 'mean', type: 'quantitative', title: 'test accuracy (%)' }, color: { field: 'method', type: 'nominal', legend: null } } },
          { mark: { type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 11 }, encoding: { y: { field: 'mean', type: 'quantitative', title: 'test accuracy (%)' }, text: { field: 'method' } } },
        ],
      },
      { ...font, title: 'Accuracy against cost: mean over seeds, bars min–max' },
    );
  }
  if (report.methods.averaging) {
    const values = report.methods.averaging
      .filter((m) => m.key !== 'sgd' && m.key !== 'sam')
      .flatMap((m) => {
        const runs = clean.filter((r) => r.method === m.key);
        return [
          { method: m.label, weights: 'last iterate', accuracy: summarize(runs.map((r) => 100 * (r.finalAccuracy ?? Number.NaN))).mean },
          { method: m.label, weights: 'averaged', accuracy: summarize(runs.map((r) => 100 * r.testAccuracy)).mean },
        ];
      });
    out['averaging'] = await plotChart(
      {
        data: { values },
        mark: 'bar',
        encoding: {
          x: { field: 'method', type: 'nominal', title: null, sort: null },
          xOffset: { field: 'weights', sort: ['last iterate', 'averaged'] },
          y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy (%, mean over seeds)', scale: { zero: false } },
          color: { field: 'weights', type: 'nominal', title: null, sort: ['last iterate', 'averaged'] },
        },
      },
      { ...font, title: 'Averaging: the last iterate and the averaged weights' },
    );
  }
  if (report.methods.imbalance) {
    const values = report.methods.imbalance.flatMap((m) => {
      const runs = report.runs.filter((r) => r.data === 'longTailed' && r.method === m.key);
      return [
        { method: m.label, classes: 'head (0–6)', accuracy: summarize(runs.map((r) => 100 * classMean(HEAD)(r))).mean },
        { method: m.label, classes: 'tail (7–9)', accuracy: summarize(runs.map((r) => 100 * classMean(TAIL)(r))).mean },
      ];
    });
    out['imbalance'] = await plotChart(
      {
        data: { values },
        mark: 'bar',
        encoding: {
          x: { field: 'method', type: 'nominal', title: null, sort: null },
          xOffset: { field: 'classes' },
          y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy (%, mean over seeds)' },
          color: { field: 'classes', type: 'nominal', title: null },
        },
      },
      { ...font, title: 'Long-tailed MNIST: head and tail accuracy' },
    );
  }
  return out;
}
