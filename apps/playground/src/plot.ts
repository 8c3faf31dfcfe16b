/**
 * The pictures, in plain SVG: the contour plot of a test function with the trajectories
 * over it, and the loss over steps.
 *
 * @module
 */
import type { Point, TestFunction } from './functions.js';

const SVG = 'http://www.w3.org/2000/svg';

/** Colors of the runs, in order: the chosen optimizer, then the SGD baseline. */
export const RUN_COLORS = ['#d1495b', '#2e86ab', '#66a182', '#edae49'] as const;

function el<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** Contour levels of a grid: quantiles of the values, or geometric steps above the minimum. */
function levels(values: Float64Array, count: number, log: boolean): { levels: number[]; transform: (v: number) => number } {
  let min = Number.POSITIVE_INFINITY;
  for (const v of values) min = Math.min(min, v);
  const transform = log ? (v: number) => Math.log10(v - min + 1e-3) : (v: number) => v;
  const sorted = Array.from(values, transform).sort((a, b) => a - b);
  const out: number[] = [];
  for (let i = 1; i < count; i += 1) out.push(sorted[Math.floor((i / count) ** 1.6 * (sorted.length - 1))]!);
  return { levels: out, transform };
}

/** Marching squares over a grid: line segments where the transformed f crosses each level. */
function contourPath(grid: Float64Array, nx: number, ny: number, level: number, toX: (i: number) => number, toY: (j: number) => number): string {
  const parts: string[] = [];
  const at = (i: number, j: number) => grid[j * nx + i]!;
  const cross = (a: number, b: number) => (level - a) / (b - a);
  for (let j = 0; j < ny - 1; j += 1) {
    for (let i = 0; i < nx - 1; i += 1) {
      const v = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)] as const;
      const points: [number, number][] = [];
      const edges: [number, number, number, number, number, number][] = [
        [0, 1, i, j, i + 1, j],
        [1, 2, i + 1, j, i + 1, j + 1],
        [2, 3, i + 1, j + 1, i, j + 1],
        [3, 0, i, j + 1, i, j],
      ];
      for (const [a, b, ia, ja, ib, jb] of edges) {
        if (v[a]! < level !== v[b]! < level) {
          const t = cross(v[a]!, v[b]!);
          points.push([toX(ia + t * (ib - ia)), toY(ja + t * (jb - ja))]);
        }
      }
      for (let k = 0; k + 1 < points.length; k += 2) {
        const [p, q] = [points[k]!, points[k + 1]!];
        parts.push(`M${p[0].toFixed(1)},${p[1].toFixed(1)}L${q[0].toFixed(1)},${q[1].toFixed(1)}`);
      }
    }
  }
  return parts.join('');
}

/** A drawn contour plot: call `trajectory` to add a run's path over it. */
export interface ContourPlot {
  readonly svg: SVGSVGElement;
  /** Screen position of a point of the plane. */
  readonly project: (p: Point) => [number, number];
  /** Point of the plane under a screen position (for clicks). */
  readonly unproject: (sx: number, sy: number) => Point;
  /** Draw (or redraw) run `index`'s trajectory. */
  trajectory(index: number, label: string, points: readonly Point[], end?: Point): void;
  /** Mark the start point. */
  start(p: Point): void;
  /** Remove every trajectory. */
  clear(): void;
}

/** Draw `fn`'s contour plot into `host` (replacing what was there). */
export function contourPlot(host: HTMLElement, fn: TestFunction, size = { width: 560, height: 420 }): ContourPlot {
  const { width, height } = size;
  const [x0, x1, y0, y1] = fn.domain;
  const nx = 121;
  const ny = 91;
  const grid = new Float64Array(nx * ny);
  for (let j = 0; j < ny; j += 1) {
    for (let i = 0; i < nx; i += 1) grid[j * nx + i] = fn.value(x0 + ((x1 - x0) * i) / (nx - 1), y0 + ((y1 - y0) * j) / (ny - 1));
  }
  const { levels: ls, transform } = levels(grid, 18, fn.logContours);
  const transformed = grid.map(transform);
  const sx = (x: number) => ((x - x0) / (x1 - x0)) * width;
  const sy = (y: number) => height - ((y - y0) / (y1 - y0)) * height;
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'contour', role: 'img', 'aria-label': `contour plot of ${fn.name}` });
  svg.append(el('rect', { x: 0, y: 0, width, height, fill: '#fbfaf7' }));
  ls.forEach((level, k) => {
    const shade = Math.round(200 - (150 * k) / ls.length);
    svg.append(
      el('path', {
        d: contourPath(transformed, nx, ny, level, (i) => (i / (nx - 1)) * width, (j) => height - (j / (ny - 1)) * height),
        fill: 'none',
        stroke: `rgb(${shade},${shade},${Math.min(255, shade + 40)})`,
        'stroke-width': 1,
      }),
    );
  });
  for (const m of fn.minima) {
    const [cx, cy] = [sx(m.at[0]), sy(m.at[1])];
    svg.append(el('path', { d: `M${cx - 5},${cy}L${cx + 5},${cy}M${cx},${cy - 5}L${cx},${cy + 5}`, stroke: '#555', 'stroke-width': 1.5 }));
    const text = el('text', { x: cx + 6, y: cy - 6, 'font-size': 11, fill: '#444' });
    text.textContent = m.label;
    svg.append(text);
  }
  const runs = el('g', { class: 'runs' });
  const startMark = el('circle', { r: 5, fill: '#fff', stroke: '#222', 'stroke-width': 1.5, 'data-testid': 'start' });
  svg.append(runs, startMark);
  host.replaceChildren(svg);
  const paths = new Map<number, SVGGElement>();
  return {
    svg,
    project: (p) => [sx(p[0]), sy(p[1])],
    unproject: (px, py) => [x0 + (px / width) * (x1 - x0), y0 + ((height - py) / height) * (y1 - y0)],
    trajectory(index, label, points, end) {
      paths.get(index)?.remove();
      const color = RUN_COLORS[index % RUN_COLORS.length]!;
      const group = el('g', { 'data-testid': 'trajectory', 'data-run': label });
      const d = points.map((p, k) => `${k === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
      group.append(el('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.6, 'stroke-opacity': 0.85 }));
      const last = end ?? points[points.length - 1];
      if (last) group.append(el('circle', { cx: sx(last[0]), cy: sy(last[1]), r: 4.5, fill: color, stroke: '#222' }));
      runs.append(group);
      paths.set(index, group);
    },
    start(p) {
      startMark.setAttribute('cx', String(sx(p[0])));
      startMark.setAttribute('cy', String(sy(p[1])));
    },
    clear() {
      runs.replaceChildren();
      paths.clear();
    },
  };
}

/** Draw the loss over steps of every run into `host` (log scale of f − min f + 1e-6 when asked). */
export function lossPlot(host: HTMLElement, runs: readonly { label: string; losses: readonly number[] }[], size = { width: 560, height: 220 }): void {
  const { width, height } = size;
  const pad = { left: 52, right: 12, top: 10, bottom: 28 };
  const all = runs.flatMap((r) => r.losses).filter(Number.isFinite);
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, 'data-testid': 'loss-plot', role: 'img', 'aria-label': 'loss over steps' });
  if (all.length === 0) {
    host.replaceChildren(svg);
    return;
  }
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const steps = Math.max(...runs.map((r) => r.losses.length - 1), 1);
  const sx = (t: number) => pad.left + (t / steps) * (width - pad.left - pad.right);
  const sy = (v: number) => pad.top + (1 - (v - lo) / (hi - lo || 1)) * (height - pad.top - pad.bottom);
  svg.append(el('rect', { x: pad.left, y: pad.top, width: width - pad.left - pad.right, height: height - pad.top - pad.bottom, fill: '#fbfaf7', stroke: '#ccc' }));
  for (const [v, anchor] of [
    [hi, pad.top + 4],
    [lo, height - pad.bottom],
  ] as const) {
    const label = el('text', { x: pad.left - 6, y: anchor, 'font-size': 11, 'text-anchor': 'end', fill: '#444' });
    label.textContent = Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
    svg.append(label);
  }
  const xlabel = el('text', { x: width - pad.right, y: height - 8, 'font-size': 11, 'text-anchor': 'end', fill: '#444' });
  xlabel.textContent = `step ${steps}`;
  svg.append(xlabel);
  runs.forEach((run, index) => {
    const d = run.losses.map((v, t) => `${t === 0 ? 'M' : 'L'}${sx(t).toFixed(1)},${sy(Number.isFinite(v) ? v : hi).toFixed(1)}`).join('');
    svg.append(el('path', { d, fill: 'none', stroke: RUN_COLORS[index % RUN_COLORS.length]!, 'stroke-width': 1.6, 'data-run': run.label }));
  });
  host.replaceChildren(svg);
}
