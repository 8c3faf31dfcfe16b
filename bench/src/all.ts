#!/usr/bin/env node
/**
 * `pnpm bench`: the whole benchmark in one run — the cost of every preset (`runCost`: wasm and cpu,
 * then the scaling) and the papers' claims on real MNIST (`flatmin bench --repro`) — then
 * `README.md` in the results folder: what ran, when, on which commit, how long each part took, the
 * headline numbers and links to `cost.md` and `repro/repro.md`.
 *
 *   --quick        both parts at their smoke-test size (under ten minutes on 2 cores), to
 *                  bench/results/quick/ (not tracked) unless --out is given
 *   --out DIR      the results folder (default bench/results/, whose report is committed)
 *   --report-only  rewrite README.md from the cost.json and repro/repro.json already there
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, UsageError } from '@flatmin/cli-kit';
import { parseRepro, paired, type ReproReport, runRepro, verdict } from 'flatmin/cli';
import { type CostResults, DEFAULT_OUT, runCost } from './cost.js';
import { sourceState } from './report.js';

const USAGE = `Usage: pnpm bench [-- flags]      (or, in bench: node dist/all.js [flags])

The whole benchmark: the cost of every preset on wasm and cpu with the scaling (pnpm bench:cost),
then the papers' claims on real MNIST (pnpm bench:repro, i.e. flatmin bench --repro), then
README.md in the results folder linking both reports. The full run takes about an hour on 2 cores.

Flags:
  --quick          both parts at their smoke-test size (under 10 minutes), to bench/results/quick/
  --out DIR        the results folder (default bench/results/)
  --report-only    only rewrite README.md from the results already in the folder
  --help           show this text
`;

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = resolve(HERE, '..', '..');

async function main(argv: readonly string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseFlags(argv, { quick: { type: 'boolean' }, out: { type: 'string' }, 'report-only': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
    if (values['out'] !== undefined && (typeof values['out'] !== 'string' || values['out'].trim() === '')) throw new UsageError('--out must be a folder');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (values['help'] === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const quick = values['quick'] === true;
  const out = typeof values['out'] === 'string' ? resolve(values['out']) : quick ? join(DEFAULT_OUT, 'quick') : DEFAULT_OUT;
  const command = ['pnpm bench', ...argv.filter((a) => a !== '--')].join(' ');
  mkdirSync(out, { recursive: true });
  if (values['report-only'] !== true) {
    const started = performance.now();
    await runCost({ quick, out, command: `${command} (cost part)` });
    const reproArgv = ['bench', '--repro', ...(quick ? ['--quick'] : []), '--out', join(out, 'repro')];
    const options = parseRepro(reproArgv.slice(1));
    if (options === 'help') throw new Error('unreachable');
    const source = sourceState();
    await runRepro(options, { stdout: { write: () => true }, stderr: process.stderr }, reproArgv);
    // The CLI does not know the commit it runs from; the repository does.
    writeFileSync(join(out, 'repro', 'source.json'), `${JSON.stringify(source, null, 2)}\n`);
    process.stderr.write(`pnpm bench: both parts in ${((performance.now() - started) / 60000).toFixed(1)} min\n`);
  }
  const index = join(out, 'README.md');
  writeFileSync(index, reportIndex(out));
  process.stderr.write(`wrote ${index}\n`);
  return 0;
}

const VERDICT = { holds: 'yes, on every seed', mostly: 'yes on average, not every seed', mixed: 'on average only', no: 'no' } as const;

const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** README.md of a results folder, from its cost.json and repro/repro.json (either may be missing). */
export function reportIndex(out: string): string {
  const costFile = join(out, 'cost.json');
  const reproFile = join(out, 'repro', 'repro.json');
  const cost = existsSync(costFile) ? (JSON.parse(readFileSync(costFile, 'utf8')) as CostResults) : null;
  const repro = existsSync(reproFile) ? (JSON.parse(readFileSync(reproFile, 'utf8')) as ReproReport) : null;
  const sourceFile = join(out, 'repro', 'source.json');
  const reproSource = existsSync(sourceFile) ? (JSON.parse(readFileSync(sourceFile, 'utf8')) as { commit?: string; note?: string } | null) : null;
  const parts: string[] = ['# flatmin benchmark results', ''];
  parts.push(
    `Made by \`pnpm bench\` from the repository root (\`bench/src/all.ts\`), which runs the two parts below and writes this page; each part also runs alone (\`pnpm bench:cost\`, \`pnpm bench:repro\`). Folder: \`${relative(REPO, out) || '.'}\`.`,
    '',
  );
  if (cost === null) parts.push('## Cost', '', 'No cost.json here yet.', '');
  else {
    const source = cost.source === null ? '' : `, commit ${cost.source.commit}`;
    parts.push(
      '## Cost of every preset → [cost.md](cost.md)',
      '',
      `\`${cost.command}\`, ${cost.date.slice(0, 16).replace('T', ' ')} UTC${source}, ${cost.machine.cpus} × ${cost.machine.cpuModel}, ${fixed(cost.seconds.total / 60, 1)} min${cost.quick ? ' (--quick: not numbers to quote)' : ''}.`,
      '',
      '| backend | base ms/step | flatmin SAM × base | SAM / hand-rolled SAM | rows passing every target |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...cost.backends.map((b) => {
        const base = b.rows[0]!;
        const sam = b.rows.find((r) => r.method === 'sam');
        const passing = b.rows.filter((r) => r.pass).length;
        return `| ${b.backend} | ${fixed(1000 * base.secondsPerStep.median, 1)} | ${sam ? fixed(sam.ratio.median, 3) : '—'} | ${b.samOverHandRolled ? fixed(b.samOverHandRolled.median, 3) : '—'} | ${passing} of ${b.rows.length} |`;
      }),
      '',
      ...(cost.scaling === null ? [] : ['![step-time ratio to the base against the parameter count](scaling.svg)', '']),
    );
  }
  if (repro === null) parts.push('## Claims', '', 'No repro/repro.json here yet.', '');
  else {
    parts.push(
      "## The papers' claims on MNIST → [repro/repro.md](repro/repro.md)",
      '',
      `\`flatmin ${repro.argv.join(' ')}\`, ${repro.date.slice(0, 16).replace('T', ' ')} UTC${reproSource?.commit ? `, commit ${reproSource.commit}${reproSource.note ? ` (${reproSource.note})` : ''}` : ''}, ${repro.machine.cpus} × ${repro.machine.cpuModel}, backend ${repro.backend}, ${fixed(repro.seconds / 60, 1)} min, ${repro.runs.length} training runs, seeds ${Array.from({ length: repro.settings.seeds }, (_, i) => repro.settings.seed + i).join(', ')}${repro.settings.quick ? ' (--quick: a smoke test, not evidence)' : ''}.`,
      '',
      ...claimLines(repro),
      '',
    );
  }
  return `${parts.join('\n')}\n`;
}

/** One line per claim: the paired test-accuracy difference against its baseline and the verdict. */
function claimLines(report: ReproReport): string[] {
  const acc = (data: string, method: string, pick: (r: ReproReport['runs'][number]) => number = (r) => r.testAccuracy) =>
    report.runs.filter((r) => r.data === data && r.method === method).map((r) => ({ seed: r.seed, value: pick(r) }));
  const line = (claim: string, data: string, method: string, baseline: string, pick?: (r: ReproReport['runs'][number]) => number) => {
    const p = paired(acc(data, method, pick), acc(data, baseline, pick));
    if (p.n === 0) return [];
    return [`| ${claim} | ${p.difference.mean >= 0 ? '+' : '−'}${fixed(Math.abs(100 * p.difference.mean), 2)} | ${p.wins}/${p.n} | ${VERDICT[verdict(p)]} |`];
  };
  const rows: string[] = [];
  for (const level of Object.keys(report.data).filter((k) => k.startsWith('noise'))) {
    for (const m of report.methods.labelNoise ?? []) if (m.key !== 'sgd') rows.push(...line(`${m.label} > SGD at ${level.slice(5)} % label noise`, level, m.key, 'sgd'));
  }
  for (const m of (report.methods.flatness ?? []).filter((x) => x.key !== 'sgd')) {
    // Lower λ_max is the claim: compare SGD's against the method's.
    const lambda = (method: string) => report.runs.filter((r) => r.data === 'clean' && r.method === method && r.geometry).map((r) => ({ seed: r.seed, value: r.geometry!.lambdaMax }));
    const p = paired(lambda('sgd'), lambda(m.key));
    if (p.n > 0) rows.push(`| ${m.label}'s λ_max < SGD's (Δ = SGD − method) | ${fixed(p.difference.mean, 2)} | ${p.wins}/${p.n} | ${VERDICT[verdict(p)]} |`);
  }
  for (const m of (report.methods.efficiency ?? []).filter((x) => x.key !== 'sgd' && x.key !== 'sam')) rows.push(...line(`${m.label} > SGD (clean labels)`, 'clean', m.key, 'sgd'));
  rows.push(...line('SAM > SGD (clean labels)', 'clean', 'sam', 'sgd'));
  for (const m of (report.methods.averaging ?? []).filter((x) => x.key !== 'sgd' && x.key !== 'sam')) {
    const runs = report.runs.filter((r) => r.data === 'clean' && r.method === m.key);
    const p = paired(runs.map((r) => ({ seed: r.seed, value: r.testAccuracy })), runs.map((r) => ({ seed: r.seed, value: r.finalAccuracy ?? Number.NaN })));
    if (p.n > 0) rows.push(`| ${m.label}: averaged > last iterate | ${p.difference.mean >= 0 ? '+' : '−'}${fixed(Math.abs(100 * p.difference.mean), 2)} | ${p.wins}/${p.n} | ${VERDICT[verdict(p)]} |`);
  }
  const tail = (r: ReproReport['runs'][number]) => (r.perClassAccuracy[7]! + r.perClassAccuracy[8]! + r.perClassAccuracy[9]!) / 3;
  rows.push(...line("ImbSAM's tail accuracy > SAM's (long-tailed)", 'longTailed', 'imbSam', 'sam', tail));
  return ['| claim | Δ (points; λ: absolute) | seeds positive | verdict |', '| --- | ---: | ---: | --- |', ...rows];
}

process.exitCode = await main(process.argv.slice(2));
