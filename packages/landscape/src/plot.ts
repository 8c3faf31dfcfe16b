/**
 * Pictures of the landscapes: several 1-D lines overlaid (Vega-Lite) and a filled contour map of
 * a 2-D surface (Vega's isocontour transform, which Vega-Lite does not have), as SVG and PNG.
 *
 * @module
 */
import { FlatminConfigError } from '@flatmin/core';
import { checkOptions } from '@flatmin/core/kit';
import { checkBoolean, checkCount, given } from './common.js';
import type { LineResult } from './line.js';
import { checkRender, type Picture, type RenderOptions, renderVega, renderVegaLite } from './render.js';
import type { SurfaceResult } from './surface.js';

/** Options of {@link plotLine}. */
export interface PlotLineOptions extends RenderOptions {
  /** A log scale for the loss axis (default false; every loss must then be > 0). */
  log?: boolean;
  /** The horizontal axis' title (default `'s'`). */
  xTitle?: string;
  /** The vertical axis' title (default `'loss'`). */
  yTitle?: string;
}

/** Options of {@link plotSurface}. */
export interface PlotSurfaceOptions extends RenderOptions {
  /** The number of contour levels (default 12; 2 … 100). */
  levels?: number;
  /** Space the levels and the colours logarithmically (default false; every loss must then be > 0). */
  log?: boolean;
  /** Mark the measured weights (a = b = 0) with a cross (default true). */
  marker?: boolean;
}

const RENDER_KEYS = ['width', 'height', 'scale', 'title', 'font', 'fontFiles'] as const;
const LINE_KEYS = [...RENDER_KEYS, 'log', 'xTitle', 'yTitle'] as const;
const SURFACE_KEYS = [...RENDER_KEYS, 'levels', 'log', 'marker'] as const;

function checkTitle(options: object, key: string, fallback: string, where: string): string {
  const value = given(options, key, fallback);
  if (typeof value !== 'string') throw new FlatminConfigError(key, value, 'a string', where);
  return value;
}

function finiteNumbers(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/**
 * Several 1-D landscapes in one picture — e.g. the minima SGD, SAM and another optimizer found,
 * each `lineLandscape` result under its name — drawn with Vega-Lite (one coloured line per name,
 * a legend with the names) and rendered to SVG in Node (no browser), then to PNG with resvg.
 *
 * @param lines `{ [name]: lineResult }`: each `{ s, loss }` (a {@link LineResult}, or the same arrays from JSON).
 * @param options {@link PlotLineOptions}.
 * @returns `{ svg, png }`: the SVG text and the PNG bytes (width·scale × height·scale pixels).
 *
 * @example
 * ```ts
 * import { plotLine } from '@flatmin/landscape';
 *
 * const s = [-1, -0.5, 0, 0.5, 1];
 * const { svg, png } = await plotLine({ sharp: { s, loss: s.map((x) => 10 * x * x) }, flat: { s, loss: s.map((x) => x * x) } }, { width: 480, height: 320 });
 * ```
 */
export function plotLine(lines: Record<string, Pick<LineResult, 's' | 'loss'>>, options?: PlotLineOptions): Promise<Picture> {
  const where = 'plotLine';
  const checked = checkOptions(options, LINE_KEYS, where);
  const settings = checkRender(checked, where, { width: 640, height: 400 });
  const log = checkBoolean(checked, 'log', false, where);
  const xTitle = checkTitle(checked, 'xTitle', 's', where);
  const yTitle = checkTitle(checked, 'yTitle', 'loss', where);
  if (lines === null || typeof lines !== 'object' || Array.isArray(lines) || Object.keys(lines).length === 0) {
    throw new FlatminConfigError('lines', lines, 'an object { [name]: { s, loss } } with at least one line', where);
  }
  const names = Object.keys(lines);
  const values: Array<{ series: string; s: number; loss: number }> = [];
  for (const name of names) {
    const line = lines[name] as { s?: unknown; loss?: unknown } | null;
    const ok = line !== null && typeof line === 'object' && finiteNumbers(line.s) && Array.isArray(line.loss) && line.loss.length === line.s.length && line.s.length >= 2;
    if (!ok) throw new FlatminConfigError(name, line, 'a line { s: number[], loss: number[] } of equal lengths (at least 2 points)', where);
    (line.loss as unknown[]).forEach((loss, i) => {
      if (typeof loss !== 'number' || Number.isNaN(loss) || (log && !(loss > 0))) throw new FlatminConfigError(name, line, log ? 'losses > 0 (log scale)' : 'numeric losses', where);
      values.push({ series: name, s: (line.s as number[])[i]!, loss });
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: settings.width,
    height: settings.height,
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    ...(settings.title === undefined ? {} : { title: settings.title }),
    data: { values },
    mark: { type: 'line', strokeWidth: 2, clip: true },
    encoding: {
      x: { field: 's', type: 'quantitative', title: xTitle, scale: { nice: false, zero: false } },
      y: { field: 'loss', type: 'quantitative', title: yTitle, scale: log ? { type: 'log' } : { type: 'linear', zero: false } },
      color: { field: 'series', type: 'nominal', title: null, sort: names, scale: { scheme: 'category10' } },
    },
    config: { font: settings.font, legend: { orient: 'top-right', labelFontSize: 12 } },
  };
  return renderVegaLite(spec, settings);
}

/** Options of {@link plotChart}: the common picture options (a `width`/`height` given here override the spec's). */
export type PlotChartOptions = RenderOptions;

/**
 * Any Vega-Lite chart — bars with error bars, a scatter, a faceted plot — rendered the same way as
 * {@link plotLine}: to SVG in Node (no browser), then to PNG with resvg. The spec is used as given
 * (with its data inline); `width`, `height` and `title` from `options` replace the spec's when
 * given, `font` sets every text's font unless the spec's `config.font` does.
 *
 * @param spec a Vega-Lite specification (an object with `mark` or a composition such as `layer`, `hconcat`, `facet`).
 * @param options {@link PlotChartOptions}.
 * @returns `{ svg, png }`.
 *
 * @example
 * ```ts
 * import { plotChart } from '@flatmin/landscape';
 *
 * const { svg, png } = await plotChart({
 *   data: { values: [{ method: 'SGD', accuracy: 91.6 }, { method: 'SAM', accuracy: 92.1 }] },
 *   mark: 'bar',
 *   encoding: { x: { field: 'method', type: 'nominal' }, y: { field: 'accuracy', type: 'quantitative' } },
 * }, { width: 320, height: 240 });
 * ```
 */
export function plotChart(spec: Record<string, unknown>, options?: PlotChartOptions): Promise<Picture> {
  const where = 'plotChart';
  const checked = checkOptions(options, RENDER_KEYS, where);
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new FlatminConfigError('spec', spec, 'a Vega-Lite specification object', where);
  const composed = ['mark', 'layer', 'hconcat', 'vconcat', 'concat', 'facet', 'repeat', 'spec'].some((key) => key in spec);
  if (!composed) throw new FlatminConfigError('spec', spec, "a Vega-Lite specification with a 'mark' (or 'layer', 'hconcat', 'vconcat', 'concat', 'facet', 'repeat')", where);
  const given = (key: string) => (checked as Record<string, unknown>)[key] !== undefined;
  const settings = checkRender(checked, where, { width: typeof spec['width'] === 'number' ? (spec['width'] as number) : 640, height: typeof spec['height'] === 'number' ? (spec['height'] as number) : 400 });
  const config = (spec['config'] ?? {}) as Record<string, unknown>;
  const full = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    ...spec,
    ...(given('width') || typeof spec['width'] === 'number' ? { width: settings.width } : {}),
    ...(given('height') || typeof spec['height'] === 'number' ? { height: settings.height } : {}),
    ...(settings.title === undefined ? {} : { title: settings.title }),
    config: { ...config, font: typeof config['font'] === 'string' ? config['font'] : settings.font },
  };
  return renderVegaLite(full, settings);
}

/** The contour thresholds: `levels` values from the smallest loss to the largest, evenly or log-spaced. */
export function contourLevels(min: number, max: number, levels: number, log: boolean): number[] {
  if (max <= min) return [min];
  return Array.from({ length: levels }, (_, k) => (log ? Math.exp(Math.log(min) + ((Math.log(max) - Math.log(min)) * k) / levels) : min + ((max - min) * k) / levels));
}

/**
 * A 2-D landscape (`surfaceLandscape`'s result) as a filled contour map: Vega's isocontour
 * transform (marching squares, d3-contour) over the grid, `levels` bands coloured on the viridis
 * scale with a colour legend, the a and b axes, and a cross at the measured weights; rendered to
 * SVG in Node, then to PNG with resvg.
 *
 * @param surface a {@link SurfaceResult} (or the same `{ a, b, loss }` from JSON).
 * @param options {@link PlotSurfaceOptions}.
 * @returns `{ svg, png }`.
 *
 * @example
 * ```ts
 * import { plotSurface } from '@flatmin/landscape';
 *
 * const a = [-1, -0.5, 0, 0.5, 1];
 * const b = a;
 * const loss = b.map((y) => a.map((x) => x * x + 4 * y * y));
 * const { svg, png } = await plotSurface({ a, b, loss }, { levels: 8 });
 * ```
 */
export function plotSurface(surface: Pick<SurfaceResult, 'a' | 'b' | 'loss'>, options?: PlotSurfaceOptions): Promise<Picture> {
  const where = 'plotSurface';
  const checked = checkOptions(options, SURFACE_KEYS, where);
  const settings = checkRender(checked, where, { width: 560, height: 480 });
  const levels = checkCount(checked, 'levels', 12, 2, where);
  if (levels > 100) throw new FlatminConfigError('levels', levels, 'an integer >= 2 and <= 100', where);
  const log = checkBoolean(checked, 'log', false, where);
  const marker = checkBoolean(checked, 'marker', true, where);
  const s = surface as { a?: unknown; b?: unknown; loss?: unknown } | null;
  const grid = s !== null && typeof s === 'object' && finiteNumbers(s.a) && finiteNumbers(s.b) && s.a.length >= 2 && s.b.length >= 2 ? { a: s.a, b: s.b } : undefined;
  const rows = grid !== undefined && Array.isArray(s!.loss) && s!.loss.length === grid.b.length ? (s!.loss as unknown[]) : undefined;
  if (grid === undefined || rows === undefined || !rows.every((row) => finiteNumbers(row) && row.length === grid.a.length && (!log || row.every((x) => x > 0)))) {
    throw new FlatminConfigError('surface', surface, `a surface { a: number[], b: number[], loss: number[][] } with loss[j][i] at (a[i], b[j])${log ? ', every loss > 0 (log)' : ''}`, where);
  }
  const { a, b } = grid;
  const flat = (rows as number[][]).flat();
  const min = Math.min(...flat);
  const max = Math.max(...flat);
  const thresholds = contourLevels(min, max, levels, log);
  // Each grid value is a cell centred on its (a, b); the axes span the cells' outer edges.
  const halfA = (a[a.length - 1]! - a[0]!) / (a.length - 1) / 2;
  const halfB = (b[b.length - 1]! - b[0]!) / (b.length - 1) / 2;
  const xDomain = [a[0]! - halfA, a[a.length - 1]! + halfA];
  const yDomain = [b[0]! - halfB, b[b.length - 1]! + halfB];
  const inside = (domain: number[]) => domain[0]! <= 0 && 0 <= domain[1]!;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    width: settings.width,
    height: settings.height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 5,
    background: 'white',
    ...(settings.title === undefined ? {} : { title: { text: settings.title } }),
    config: { text: { font: settings.font }, title: { font: settings.font }, axis: { labelFont: settings.font, titleFont: settings.font }, legend: { labelFont: settings.font, titleFont: settings.font } },
    data: [
      { name: 'grid', values: [{ width: a.length, height: b.length, values: flat }] },
      {
        name: 'contours',
        source: 'grid',
        transform: [
          {
            type: 'isocontour',
            thresholds,
            smooth: true,
            scale: { expr: `[width / ${a.length}, -height / ${b.length}]` },
            translate: [0, { signal: 'height' }],
          },
        ],
      },
      { name: 'origin', values: marker && inside(xDomain) && inside(yDomain) ? [{ a: 0, b: 0 }] : [] },
    ],
    scales: [
      { name: 'x', type: 'linear', domain: xDomain, range: 'width', nice: false, zero: false },
      { name: 'y', type: 'linear', domain: yDomain, range: 'height', nice: false, zero: false },
      { name: 'color', type: log ? 'log' : 'linear', domain: [min, max === min ? min + 1 : max], range: { scheme: 'viridis' } },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'a (direction 1)' },
      { orient: 'left', scale: 'y', title: 'b (direction 2)' },
    ],
    legends: [{ fill: 'color', type: 'gradient', title: 'loss', gradientLength: { signal: 'height - 20' } }],
    marks: [
      // The lowest band everywhere: marching squares leaves the grid's outer half-cells and corners uncovered.
      { type: 'rect', encode: { update: { x: { value: 0 }, y: { value: 0 }, width: { signal: 'width' }, height: { signal: 'height' }, fill: { scale: 'color', value: thresholds[0] } } } },
      {
        type: 'shape',
        from: { data: 'contours' },
        clip: true,
        encode: { enter: { fill: { scale: 'color', field: 'contour.value' }, stroke: { value: '#ffffff' }, strokeWidth: { value: 0.5 }, strokeOpacity: { value: 0.6 } } },
        transform: [{ type: 'geoshape', field: 'datum.contour' }],
      },
      {
        type: 'symbol',
        from: { data: 'origin' },
        encode: { enter: { x: { scale: 'x', field: 'a' }, y: { scale: 'y', field: 'b' }, shape: { value: 'cross' }, size: { value: 90 }, fill: { value: '#e41a1c' }, stroke: { value: '#ffffff' }, strokeWidth: { value: 1 } } },
      },
    ],
  };
  return renderVega(spec, settings);
}
