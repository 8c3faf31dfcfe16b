/**
 * Vega (and Vega-Lite) specs to SVG in Node without a browser (`new vega.View(runtime, { renderer:
 * 'none' }).toSVG()`), and SVG to PNG with resvg. Both libraries are loaded on first use, so
 * importing this package for the measurements alone does not load them.
 *
 * @module
 */
import { FlatminConfigError } from '@flatmin/core';
import { checkNumber, given } from './common.js';

/** Options every picture takes. */
export interface RenderOptions {
  /** The picture's width in CSS pixels, axes and legend included (default 640; 100 … 4000). */
  width?: number;
  /** The picture's height in CSS pixels (default 400; 100 … 4000). */
  height?: number;
  /** PNG pixels per CSS pixel (default 1; the PNG is width·scale × height·scale; 0.25 … 8). */
  scale?: number;
  /** A title above the plot (default none). */
  title?: string;
  /** Font families for every text, in order of preference (default `'DejaVu Sans, Helvetica, Arial, sans-serif'`). */
  font?: string;
  /** Font files (.ttf/.otf paths) for the PNG, for machines without system fonts (default none: the system's fonts). */
  fontFiles?: string[];
}

/** A rendered picture. */
export interface Picture {
  /** The SVG document. */
  svg: string;
  /** The PNG file's bytes (starts with the PNG signature). */
  png: Uint8Array;
}

/** The default font list: DejaVu Sans first (shipped by most Linux systems), then the usual ones. */
export const DEFAULT_FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/** The checked common options. */
export interface RenderSettings {
  width: number;
  height: number;
  scale: number;
  title: string | undefined;
  font: string;
  fontFiles: string[];
}

/** Check the {@link RenderOptions} keys of `options`. */
export function checkRender(options: object, where: string, defaults: { width: number; height: number }): RenderSettings {
  const width = checkNumber('width', given(options, 'width', defaults.width), { min: 100, max: 4000, integer: true }, where);
  const height = checkNumber('height', given(options, 'height', defaults.height), { min: 100, max: 4000, integer: true }, where);
  const scale = checkNumber('scale', given(options, 'scale', 1), { min: 0.25, max: 8 }, where);
  const title = given(options, 'title', undefined);
  if (title !== undefined && typeof title !== 'string') throw new FlatminConfigError('title', title, 'a string', where);
  const font = given(options, 'font', DEFAULT_FONT);
  if (typeof font !== 'string' || font.trim() === '') throw new FlatminConfigError('font', font, 'a CSS font-family list', where);
  const fontFiles = given(options, 'fontFiles', []);
  if (!Array.isArray(fontFiles) || !fontFiles.every((f) => typeof f === 'string')) throw new FlatminConfigError('fontFiles', fontFiles, 'an array of font file paths', where);
  return { width, height, scale, title: title as string | undefined, font, fontFiles: fontFiles as string[] };
}

/** Render a Vega spec to SVG (no browser, no canvas). */
export async function vegaToSvg(spec: object): Promise<string> {
  const vega = await import('vega');
  const view = new vega.View(vega.parse(spec as Parameters<typeof vega.parse>[0]), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Compile a Vega-Lite spec to Vega and render it to SVG. */
export async function vegaLiteToSvg(spec: object): Promise<string> {
  const vl = await import('vega-lite');
  return vegaToSvg(vl.compile(spec as Parameters<typeof vl.compile>[0]).spec);
}

/** Rasterize an SVG to PNG bytes at `scale` pixels per CSS pixel, on white. */
export async function svgToPng(svg: string, settings: Pick<RenderSettings, 'scale' | 'fontFiles'>): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const family = 'DejaVu Sans';
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: settings.scale },
    background: 'white',
    font: { loadSystemFonts: true, fontFiles: settings.fontFiles, defaultFontFamily: family, sansSerifFamily: family },
  });
  return new Uint8Array(resvg.render().asPng());
}

/** SVG and PNG of a Vega-Lite spec. */
export async function renderVegaLite(spec: object, settings: RenderSettings): Promise<Picture> {
  const svg = await vegaLiteToSvg(spec);
  return { svg, png: await svgToPng(svg, settings) };
}

/** SVG and PNG of a Vega spec. */
export async function renderVega(spec: object, settings: RenderSettings): Promise<Picture> {
  const svg = await vegaToSvg(spec);
  return { svg, png: await svgToPng(svg, settings) };
}
