import { describe, expect, it } from 'vitest';
import { plotChart, plotLine, plotSurface } from '../src/index.js';
import { svgToPng } from '../src/render.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Uint8Array): [number, number] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

/** The [x, y] points of every path in the SVG group whose class contains `mark`. */
function markPaths(svg: string, mark: string): number[][][] {
  const group = svg.split(`class="${mark} role-mark`).slice(1).map((part) => part.split('</g>')[0]!);
  return group.flatMap((g) => [...g.matchAll(/<path[^>]* d="([^"]+)"/g)].map((m) => [...m[1]!.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((p) => [Number(p[1]), Number(p[2])])));
}

describe('plotLine (Vega-Lite → SVG, resvg → PNG)', () => {
  const s = Array.from({ length: 21 }, (_, i) => -1 + i / 10);
  const lines = { sharp: { s, loss: s.map((x) => 10 * x * x + 1) }, flat: { s, loss: s.map((x) => x * x + 1) } };

  it('draws one path per name, through the data (the pixel y is one affine map of the loss for every series), with the names in the legend', async () => {
    const { svg } = await plotLine(lines, { width: 480, height: 320, title: 'Two minima' });
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['sharp', 'flat', 'Two minima', 'loss']) expect(svg).toContain(`>${text}</text>`);
    const paths = markPaths(svg, 'mark-line');
    expect(paths).toHaveLength(2);
    const [first, second] = paths as [number[][], number[][]];
    const all = [...first.map((p, i) => [p, lines.sharp.loss[i]!] as const), ...second.map((p, i) => [p, lines.flat.loss[i]!] as const)];
    expect(first).toHaveLength(21);
    expect(second).toHaveLength(21);
    // y = α + β·loss fitted on two points of the first series; every point of both is on it (to the SVG's rounding).
    const [[p0, l0], [p1, l1]] = [all[0]!, all[10]!];
    const beta = (p1[1]! - p0[1]!) / (l1 - l0);
    expect(beta).toBeLessThan(0); // higher loss, higher on the picture
    for (const [p, l] of all) expect(Math.abs(p[1]! - (p0[1]! + beta * (l - l0)))).toBeLessThan(0.01);
    // x is one affine map of s, increasing.
    for (const path of paths) for (let i = 1; i < path.length; i += 1) expect(path[i]![0]!).toBeGreaterThan(path[i - 1]![0]!);
  });

  it('renders a PNG of the requested size (scale 2 doubles it), and the fonts really render', async () => {
    const { svg, png } = await plotLine(lines, { width: 400, height: 300 });
    expect([...png.slice(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(pngSize(png)).toEqual([400, 300]);
    expect(svg).toContain('width="400" height="300"');
    expect(pngSize((await plotLine(lines, { width: 400, height: 300, scale: 2 })).png)).toEqual([800, 600]);
    // Without a usable font resvg skips <text>: the picture would not change when the texts are removed.
    const withoutText = await svgToPng(svg.replace(/<text[^>]*>[^<]*<\/text>/g, ''), { scale: 1, fontFiles: [] });
    expect(Buffer.from(withoutText).equals(Buffer.from(png))).toBe(false);
  });

  it('a log scale needs positive losses', async () => {
    await expect(plotLine({ a: { s: [0, 1], loss: [1, 10] } }, { log: true })).resolves.toHaveProperty('svg');
    expect(() => plotLine({ a: { s: [0, 1], loss: [0, 10] } }, { log: true })).toThrow(/> 0/);
  });
});

describe('plotSurface (Vega isocontour → SVG, resvg → PNG)', () => {
  // L(a, b) = a² + 4b² on a 41 × 41 grid: every contour at level t is the ellipse a² + 4b² = t.
  const a = Array.from({ length: 41 }, (_, i) => -1 + i / 20);
  const b = a;
  const loss = b.map((y) => a.map((x) => x * x + 4 * y * y));

  it('draws one filled band per level whose outline lies on the level set, with axes and a colour legend', async () => {
    const levels = 6;
    const { svg, png } = await plotSurface({ a, b, loss }, { levels, width: 500, height: 440 });
    expect(pngSize(png)).toEqual([500, 440]);
    expect([...png.slice(0, 8)]).toEqual(PNG_SIGNATURE);
    for (const text of ['loss', 'a (direction 1)', 'b (direction 2)']) expect(svg).toContain(`>${text}</text>`);
    const bands = markPaths(svg, 'mark-shape');
    expect(bands).toHaveLength(levels);
    // The plot area, from the background rect (cells are centred on the grid points: the axes span ±1.025).
    const [, w, h] = svg.match(/class="mark-rect role-mark[^>]*><path[^>]* d="M0,0h([\d.]+)v([\d.]+)h/)!.map(Number) as [number, number, number];
    const toA = (px: number) => -1.025 + (px / w) * 2.05;
    const toB = (py: number) => 1.025 - (py / h) * 2.05;
    const max = 5;
    for (let k = 1; k < levels; k += 1) {
      const threshold = (max * k) / levels;
      const inner = bands[k]!.filter(([px, py]) => Math.abs(toA(px!)) < 0.99 && Math.abs(toB(py!)) < 0.99); // away from the clipped border
      expect(inner.length).toBeGreaterThan(10);
      for (const [px, py] of inner) expect(Math.abs(toA(px!) ** 2 + 4 * toB(py!) ** 2 - threshold)).toBeLessThan(0.05 * max);
    }
  });

  it('refuses a grid whose rows do not match', () => {
    expect(() => plotSurface({ a: [0, 1], b: [0, 1], loss: [[1, 2]] })).toThrow(/surface/);
  });
});

describe('plotChart (any Vega-Lite spec → SVG, PNG)', () => {
  const bars = {
    data: { values: [{ method: 'SGD', accuracy: 2 }, { method: 'SAM', accuracy: 4 }] },
    mark: 'bar',
    encoding: { x: { field: 'method', type: 'nominal', sort: null }, y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 4] } } },
  };

  it('draws the spec: one bar per datum, heights in the data ratio, labels and title in the SVG, the PNG at width·scale × height·scale', async () => {
    const { svg, png } = await plotChart(bars, { width: 300, height: 200, title: 'Bars', scale: 2 });
    for (const text of ['SGD', 'SAM', 'Bars', 'accuracy']) expect(svg).toContain(`>${text}</text>`);
    const heights = [...svg.split('class="mark-rect role-mark')[1]!.split('</g>')[0]!.matchAll(/<path[^>]* d="M[\d.-]+,[\d.-]+h[\d.]+v([\d.]+)/g)].map((m) => Number(m[1]));
    expect(heights).toHaveLength(2);
    expect(heights[1]! / heights[0]!).toBeCloseTo(2, 2);
    expect([...png.slice(0, 8)]).toEqual(PNG_SIGNATURE);
    const [w, h] = pngSize(png);
    expect(w % 2).toBe(0);
    expect(w).toBeGreaterThan(300);
    expect(h).toBeGreaterThan(200);
  });

  it('keeps the spec when no option overrides it, and refuses what is not a Vega-Lite chart, naming the key', async () => {
    const { svg } = await plotChart({ ...bars, title: 'Own title' });
    expect(svg).toContain('>Own title</text>');
    await expect(async () => plotChart({ data: { values: [] } })).rejects.toThrow(/spec/);
    await expect(async () => plotChart(null as never)).rejects.toThrow(/spec/);
    await expect(async () => plotChart(bars, { width: 10 })).rejects.toThrow(/width/);
    await expect(async () => plotChart(bars, { colour: 'red' } as never)).rejects.toThrow(/colour/);
  });
});
