// End to end, in headless Chromium (Debian's `chromium`, driven by playwright-core; no browser
// download): build the page with Vite, serve dist/, pick SAM and plain SGD on the two-minima
// function, run, and check what the page draws and reports; then run sharpness-aware steps on
// tfjs' WebGL backend in the same browser and count device-to-host reads per step.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { twoMinima } from '../src/functions.js';
import type { WebglReport } from '../src/webgl-check.js';
import { serve } from './serve.js';

const here = join(import.meta.dirname, '..');
const artifacts = join(here, 'test-artifacts');
const site = join(artifacts, 'site');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Software WebGL (SwiftShader through ANGLE) where there is no GPU.
// CHROMIUM_ARGS replaces them (e.g. to see the WebGL failure message: `--use-gl=swiftshader`).
const ARGS = ['--no-sandbox', '--headless', ...(process.env.CHROMIUM_ARGS?.split(' ').filter(Boolean) ?? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'])];

let browser: Browser | undefined;
let server: Awaited<ReturnType<typeof serve>> | undefined;
let ready: Promise<void> | undefined;

// Set up inside each test (once), not in beforeAll: a missing Chromium then fails every test
// with its message, instead of leaving them "skipped".
function setup(): Promise<void> {
  ready ??= start();
  return ready;
}

async function start(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing: no executable at ${CHROMIUM}. The playground's browser test needs Debian's chromium package ` +
        '(`apt-get install -y chromium`) or CHROMIUM_PATH pointing at a Chromium binary; it does not download one.',
    );
  }
  mkdirSync(artifacts, { recursive: true });
  await build({ configFile: join(here, 'vite.config.ts'), logLevel: 'warn', build: { outDir: site, emptyOutDir: true } });
  server = await serve(site);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(path: string): Promise<Page> {
  await setup();
  const page = await browser!.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server!.url}/${path}`);
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

describe('the playground in Chromium', () => {
  it('SAM and SGD on the two-minima function: both trajectories, the loss plot, SAM in the flat basin and SGD in the sharp one', async () => {
    const page = await open('index.html');
    await page.waitForSelector('body[data-ready=true]', { state: 'attached', timeout: 30_000 });
    const backend = await page.textContent('[data-testid=backend]');
    await page.selectOption('[data-testid=function]', twoMinima.id);
    await page.selectOption('[data-testid=preset]', 'sam');
    await page.fill('[data-testid=rho]', '1.1');
    expect(await page.inputValue('#start-x')).toBe(String(twoMinima.start[0]));
    expect(await page.inputValue('#start-y')).toBe(String(twoMinima.start[1]));
    expect(await page.isChecked('#baseline')).toBe(true);
    await page.click('[data-testid=run]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=result]').length === 2, null, { timeout: 90_000 });

    for (const run of ['SAM', 'SGD']) {
      const d = await page.getAttribute(`[data-testid=trajectory][data-run=${run}] path`, 'd');
      expect(d?.match(/L/g)?.length, `${run}'s trajectory has one segment per step`).toBe(twoMinima.steps);
      expect(await page.locator(`[data-testid=loss-plot] path[data-run=${run}]`).count(), `${run} in the loss plot`).toBe(1);
    }
    const results = await page.$$eval('[data-testid=result]', (rows) => rows.map((row) => ({ ...(row as HTMLElement).dataset })));
    const sam = results.find((r) => r.run === 'SAM')!;
    const sgd = results.find((r) => r.run === 'SGD')!;
    expect(sam.basin, `SAM settled at (${sam.x}, ${sam.y}) on ${backend}`).toBe('flat');
    expect(sgd.basin, `SGD settled at (${sgd.x}, ${sgd.y}) on ${backend}`).toBe('sharp');
    expect(Number(sam.sharpness)).toBeLessThan(2);
    expect(Number(sgd.sharpness)).toBeGreaterThan(40);
    expect(await page.textContent('[data-testid=status]')).toMatch(/^done/);
    await page.screenshot({ path: join(artifacts, 'two-minima-sam-vs-sgd.png'), fullPage: true });
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    console.log(`playground ran on ${backend}: SAM → (${Number(sam.x).toFixed(3)}, ${Number(sam.y).toFixed(3)}), SGD → (${Number(sgd.x).toFixed(3)}, ${Number(sgd.y).toFixed(3)})`);
    await page.close();
  }, 120_000);

  it('a sharpness-aware step on the WebGL backend makes no device-to-host read', async () => {
    const page = await open('webgl-check.html');
    const report = await page.evaluate(() => window.webglReport as Promise<WebglReport>);
    const version = browser!.version();
    if (report.backend !== 'webgl') {
      throw new Error(
        `WebGL is not available in Chromium ${version} (${CHROMIUM} ${ARGS.join(' ')}): ${report.error ?? `tfjs chose '${report.backend}'`}` +
          (report.renderer ? `; renderer: ${report.renderer}` : ''),
      );
    }
    console.log(
      `webgl (${report.renderer}, WebGL ${report.webglVersion}): ${report.reads} engine reads and ${report.backendReads} backend reads in ${report.steps} steps` +
        ` (${report.reads / report.steps} per step); one dataSync() counts ${report.controlReads} + ${report.controlBackendReads}`,
    );
    // The counters see a read when there is one...
    expect(report.controlReads).toBeGreaterThanOrEqual(1);
    expect(report.controlBackendReads).toBeGreaterThanOrEqual(1);
    // ...and the steps made none, while they did train.
    expect(report.reads).toBe(0);
    expect(report.backendReads).toBe(0);
    expect(report.lossAfter!).toBeLessThan(report.lossBefore!);
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  }, 60_000);
});
