/**
 * `flatmin list`: every preset of the catalog with its paper, its parts and its cost per step.
 *
 * @module
 */
import { type PresetInfo, presets } from '../catalog.js';
import { FlagReader, parseFlags } from './args.js';
import type { CliIo } from './io.js';
import { formatTable } from './table.js';

/** `flatmin list --help`. */
export const LIST_USAGE = `Usage: flatmin list [--json]

Every preset of flatmin: the method and its paper (authors, venue, year), the parts it composes,
its forward-backward passes per step with the defaults, and what it needs from the training loop
('closure': model.fit works; the others need a custom loop or an extra option, see the README).

Flags:
  --json           print the catalog as JSON on stdout
  --backend, --seed  accepted (every command takes them); unused here
  --help           show this text
`;

/** The options of `flatmin list`. */
export interface ListOptions {
  /** Print JSON. */
  readonly json: boolean;
}

/** Parse `flatmin list`'s flags. */
export function parseList(argv: readonly string[]): ListOptions | 'help' {
  const read = new FlagReader('list', parseFlags('list', argv, {}));
  if (read.flag('help')) return 'help';
  return { json: read.common().json };
}

/** One preset as `flatmin list --json` prints it. */
export type ListedPreset = Omit<PresetInfo, 'create'>;

/** Print the catalog; returns what `--json` prints. */
export function runList(
  options: ListOptions,
  io: CliIo,
): {
  /** The command that made the report. */
  command: 'list';
  /** Every preset of the catalog, in order. */
  presets: ListedPreset[];
} {
  const listed = Object.values(presets).map(({ create: _create, ...info }) => info);
  const report = { command: 'list' as const, presets: listed };
  if (options.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report;
  }
  const table = formatTable(
    [{ header: 'preset' }, { header: 'method' }, { header: 'paper' }, { header: 'passes/step' }, { header: 'needs' }],
    listed.map((p) => [p.name, p.method, `${p.authors}, ${p.venue} ${p.year}`, p.passes, p.needs]),
  );
  const parts = listed.map((p) => `  ${p.name}: ${p.parts.join(' + ')}`).join('\n');
  io.stdout.write(`${table}\n\nParts:\n${parts}\n\nPapers:\n${listed.map((p) => `  ${p.name}: "${p.paper}"`).join('\n')}\n`);
  return report;
}
