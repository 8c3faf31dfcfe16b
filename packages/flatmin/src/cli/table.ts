/**
 * A plain-text table with aligned columns.
 *
 * @module
 */

/** One column of {@link formatTable}. */
export interface Column {
  /** The header text. */
  readonly header: string;
  /** `'right'` for numbers; default `'left'`. */
  readonly align?: 'left' | 'right';
}

/**
 * The rows under their headers and a rule, each column as wide as its widest cell (the CLI's and the
 * benchmarks' tables).
 *
 * @example
 * ```ts
 * import { formatTable } from 'flatmin/cli';
 *
 * console.log(formatTable([{ header: 'method' }, { header: 'x SGD', align: 'right' }], [['sam', '2.05']]));
 * ```
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (columns[i]?.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(columns.map((column) => column.header)), rule, ...rows.map(line)].join('\n');
}
