/**
 * `flatmin landscape`: train the demo's MLP with SGD and each chosen preset (quickly), then measure
 * how flat each minimum is with `@flatmin/landscape` on held-out digits — average and worst-case
 * flatness, the Hessian's top eigenvalue, a 1-D line and a 2-D surface along filter-normalized
 * random directions (the same seed for every method) — and write the numbers and the pictures.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FlatnessResult, LineResult, SurfaceResult } from '@flatmin/landscape';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { presets } from '../catalog.js';
import { type CommonOptions, FlagReader, parseFlags } from './args.js';
import { loadMnist, toTensors } from './data.js';
import { type CliIo, UsageError } from './io.js';
import { createPreset, parseMethods } from './methods.js';
import { Progress } from './progress.js';
import { selectBackend } from './runtime.js';
import { loadSavedModel, savedModelName } from './saved-model.js';
import { formatTable } from './table.js';
import { type TensorData, trainAndEvaluate } from './train.js';

/** The defaults: a couple of minutes per method on the cpu backend. */
export const LANDSCAPE_DEFAULTS = { methods: ['sam'], epochs: 3, train: 2000, test: 500, batch: 64, lr: 0.1, out: 'flatmin-landscape', points: 21, grid: 11, samples: 10, radius: 0.05, iterations: 10 } as const;

/** The options of `flatmin landscape`. */
export interface LandscapeOptions extends CommonOptions {
  /** The presets to compare with SGD. */
  readonly methods: readonly string[];
  /** Saved models to measure instead of training (folders with model.json, or model.json files). */
  readonly load: readonly string[];
  /** Passes over the training set. */
  readonly epochs: number;
  /** Training samples. */
  readonly train: number;
  /** Held-out samples the landscape is measured on. */
  readonly test: number;
  /** Mini-batch size. */
  readonly batch: number;
  /** Learning rate of the SGD base. */
  readonly lr: number;
  /** The output folder. */
  readonly out: string;
  /** Points of the 1-D line. */
  readonly points: number;
  /** Points along each axis of the 2-D surface. */
  readonly grid: number;
  /** Random directions of the flatness measure. */
  readonly samples: number;
  /** The flatness step s (w + s·V, V filter-normalized). */
  readonly radius: number;
  /** Power iterations of the Hessian's top eigenvalue. */
  readonly iterations: number;
}

/** `flatmin landscape --help`. */
export const LANDSCAPE_USAGE = `Usage: flatmin landscape [--method sam,... | --load DIR,...] [--out DIR] [flags]

Trains the demo's MLP on MNIST with SGD and each chosen preset (a short run), then measures each
minimum on held-out digits with @flatmin/landscape: average and worst-case flatness, the Hessian's
top eigenvalue, a 1-D line and a 2-D surface along filter-normalized random directions (the same
for every method). Writes metrics.json, line.svg + line.png (every method) and
<method>-surface.svg + .png to the output folder. With --load, the saved models are measured
instead (no training): each a folder with model.json and its weight files, as model.save writes
them (tfjs-node's file:// or a browser's downloads://), named after its folder.

Flags:
  --method LIST    presets to compare with SGD, comma-separated (default ${LANDSCAPE_DEFAULTS.methods.join(',')})
  --load LIST      saved models to measure instead, comma-separated folders (or model.json files)
  --out DIR        output folder                     (default ./${LANDSCAPE_DEFAULTS.out})
  --epochs N       passes over the training set      (default ${LANDSCAPE_DEFAULTS.epochs})
  --train N        training samples, 1..8000         (default ${LANDSCAPE_DEFAULTS.train})
  --test N         held-out samples measured, 1..2000 (default ${LANDSCAPE_DEFAULTS.test})
  --batch N        mini-batch size                   (default ${LANDSCAPE_DEFAULTS.batch})
  --lr L           SGD learning rate, > 0            (default ${LANDSCAPE_DEFAULTS.lr})
  --points N       points on the 1-D line, >= 2      (default ${LANDSCAPE_DEFAULTS.points})
  --grid N         points per axis of the surface, >= 2 (default ${LANDSCAPE_DEFAULTS.grid})
  --samples N      flatness directions               (default ${LANDSCAPE_DEFAULTS.samples})
  --radius S       flatness step, > 0                (default ${LANDSCAPE_DEFAULTS.radius})
  --iterations N   Hessian power iterations          (default ${LANDSCAPE_DEFAULTS.iterations})
  --seed N         initial weights, the presets' and the directions' seed (default 1)
  --backend NAME   tensorflow, wasm or cpu (default: the best one installed)
  --json           print the metrics as JSON on stdout (progress stays on stderr)
  --help           show this text
`;

/** Parse `flatmin landscape`'s flags. */
export function parseLandscape(argv: readonly string[]): LandscapeOptions | 'help' {
  const values = parseFlags('landscape', argv, {
    method: { type: 'string' },
    load: { type: 'string' },
    out: { type: 'string' },
    epochs: { type: 'string' },
    train: { type: 'string' },
    test: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    points: { type: 'string' },
    grid: { type: 'string' },
    samples: { type: 'string' },
    radius: { type: 'string' },
    iterations: { type: 'string' },
  });
  const read = new FlagReader('landscape', values);
  if (read.flag('help')) return 'help';
  const d = LANDSCAPE_DEFAULTS;
  const out = read.text('out') ?? d.out;
  if (out.trim() === '') throw new UsageError("flatmin landscape: --out must be a folder, got ''");
  const loadList = read.text('load');
  const load = loadList === undefined ? [] : loadList.split(',').map((p) => p.trim());
  if (loadList !== undefined && load.some((p) => p === '')) throw new UsageError(`flatmin landscape: --load needs comma-separated paths, got '${loadList}'`);
  if (load.length > 0 && read.text('method') !== undefined) throw new UsageError('flatmin landscape: --load measures saved models and --method trains new ones: give one of them');
  for (const path of load) savedModelName(path);
  return {
    ...read.common(),
    methods: load.length > 0 ? [] : parseMethods('landscape', read.text('method'), d.methods).map((p) => p.name),
    load,
    out,
    epochs: read.integer('epochs', d.epochs, 1),
    train: read.integer('train', d.train, 1, 8000),
    test: read.integer('test', d.test, 1, 2000),
    batch: read.integer('batch', d.batch, 1),
    lr: read.positive('lr', d.lr),
    points: read.integer('points', d.points, 2, 1001),
    grid: read.integer('grid', d.grid, 2, 201),
    samples: read.integer('samples', d.samples, 1),
    radius: read.positive('radius', d.radius),
    iterations: read.integer('iterations', d.iterations, 1),
  };
}

/** One method's measurements. */
export interface LandscapeRun {
  /** `'SGD'` or the preset's name. */
  readonly method: string;
  /** Accuracy on the held-out digits. */
  readonly testAccuracy: number;
  /** The held-out loss L(w). */
  readonly loss: number;
  /** Average- and worst-case flatness (`flatness`). */
  readonly flatness: Pick<FlatnessResult, 'average' | 'worst' | 'samples' | 'radius'>;
  /** The Hessian's top eigenvalue (`hessianEigenvalue`). */
  readonly hessianEigenvalue: number;
  /** The 1-D line (`lineLandscape`). */
  readonly line: Pick<LineResult, 's' | 'loss'>;
  /** The 2-D surface (`surfaceLandscape`). */
  readonly surface: Pick<SurfaceResult, 'a' | 'b' | 'loss' | 'cosine'>;
  /** The surface pictures written. */
  readonly files: readonly string[];
}

/** What `flatmin landscape --json` prints (and metrics.json holds). */
export interface LandscapeReport {
  /** The command that made the report. */
  readonly command: 'landscape';
  /** The tfjs backend it ran on. */
  readonly backend: string;
  /** The options it ran with (all but `--json` and `--backend`). */
  readonly settings: Omit<LandscapeOptions, 'json' | 'backend'>;
  /** The output folder, absolute. */
  readonly out: string;
  /** Every file written. */
  readonly files: readonly string[];
  /** SGD first, then each preset. */
  readonly runs: readonly LandscapeRun[];
}

/** Train, measure, write; the metrics table (or JSON) on stdout, progress on stderr. */
export async function runLandscape(options: LandscapeOptions, io: CliIo): Promise<LandscapeReport> {
  const landscape = await import('@flatmin/landscape');
  const backend = await selectBackend(options.backend, io.stderr);
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  io.stderr.write(`landscape: MNIST MLP, ${options.train} train / ${options.test} held out, ${options.epochs} epochs, SGD vs ${options.methods.join(', ')} -> ${out}\n`);
  const raw = loadMnist(options.train, options.test);
  const data: { train: TensorData; test: TensorData } = { train: toTensors(raw.train), test: toTensors(raw.test) };
  const steps = Math.ceil(options.train / options.batch) * options.epochs;
  const runs: LandscapeRun[] = [];
  const files: string[] = [];
  const write = (name: string, content: string | Uint8Array) => {
    const path = join(out, name);
    writeFileSync(path, content);
    files.push(path);
    return path;
  };
  try {
    const sources: Array<{ method: string; path?: string }> =
      options.load.length > 0 ? options.load.map((path) => ({ method: savedModelName(path), path })) : ['SGD', ...options.methods].map((method) => ({ method }));
    for (const { method, path } of sources) {
      let optimizer: tf.Optimizer | null = null;
      let model: tfl.LayersModel;
      let testAccuracy: number;
      if (path === undefined) {
        optimizer = method === 'SGD' ? tf.train.sgd(options.lr) : createPreset('landscape', presets[method]!, { base: tf.train.sgd(options.lr), seed: options.seed, totalSteps: steps });
        const run = await trainAndEvaluate(method, optimizer, data, { epochs: options.epochs, batch: options.batch, seed: options.seed, keepModel: true }, io.stderr);
        model = run.model!;
        testAccuracy = run.testAccuracy;
      } else {
        model = await loadSavedModel(path);
        testAccuracy = accuracyOf(model, data.test);
        io.stderr.write(`${method}: loaded from ${path}, held-out accuracy ${(100 * testAccuracy).toFixed(2)}%\n`);
      }
      try {
        const measure = landscape.forModel(model, { x: data.test.xs, y: data.test.ys, loss: 'categoricalCrossentropy' });
        const total = options.samples + options.points + options.grid * options.grid;
        const progress = new Progress(`${method} measure`, total, io.stderr);
        let offset = 0;
        const onProgress = (done: number) => progress.update(offset + done, 'loss evaluations');
        const flat = await measure.flatness({ samples: options.samples, radius: options.radius, seed: options.seed, onProgress });
        offset += options.samples;
        const line = await measure.lineLandscape({ steps: options.points, seed: options.seed, onProgress });
        offset += options.points;
        const surface = await measure.surfaceLandscape({ steps: options.grid, seed: options.seed, onProgress });
        const top = await measure.hessianEigenvalue({ iterations: options.iterations, seed: options.seed });
        progress.stop();
        const picture = await landscape.plotSurface(surface, { title: `${method}: loss around the minimum (held-out MNIST)`, width: 480, height: 420 });
        const own = [write(`${method}-surface.svg`, picture.svg), write(`${method}-surface.png`, picture.png)];
        runs.push({
          method,
          testAccuracy,
          loss: flat.base,
          flatness: { average: flat.average, worst: flat.worst, samples: flat.samples, radius: flat.radius },
          hessianEigenvalue: top,
          line: { s: line.s, loss: line.loss },
          surface: { a: surface.a, b: surface.b, loss: surface.loss, cosine: surface.cosine },
          files: own,
        });
      } finally {
        model.dispose();
        optimizer?.dispose();
      }
    }
    const lines = Object.fromEntries(runs.map((run) => [run.method, run.line]));
    const picture = await landscape.plotLine(lines, { title: 'Loss along a filter-normalized random direction (held-out MNIST)', xTitle: 's (w + s·V)' });
    write('line.svg', picture.svg);
    write('line.png', picture.png);
  } finally {
    tf.dispose([data.train.xs, data.train.ys, data.test.xs, data.test.ys]);
  }
  const { json: _json, backend: _backend, ...rest } = options;
  const metricsPath = join(out, 'metrics.json');
  files.push(metricsPath);
  const report: LandscapeReport = { command: 'landscape', backend, settings: rest, out, files, runs };
  writeFileSync(metricsPath, `${JSON.stringify(report, null, 2)}\n`);
  io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${landscapeTable(runs)}\n\nwrote ${files.length} files to ${out}\n`);
  return report;
}

/** The fraction of `data`'s rows whose argmax prediction is the label's (one read: this is a report). */
function accuracyOf(model: tfl.LayersModel, data: TensorData): number {
  return tf.tidy(() => {
    const predicted = tf.argMax(model.predict(data.xs) as tf.Tensor, -1);
    return tf.mean(tf.cast(tf.equal(predicted, tf.argMax(data.ys, -1)), 'float32')).dataSync()[0]!;
  });
}

/** The metrics table. */
export function landscapeTable(runs: readonly LandscapeRun[]): string {
  return formatTable(
    [
      { header: 'method' },
      { header: 'test accuracy', align: 'right' },
      { header: 'held-out loss', align: 'right' },
      { header: 'flatness avg', align: 'right' },
      { header: 'flatness worst', align: 'right' },
      { header: 'Hessian top eigenvalue', align: 'right' },
    ],
    runs.map((run) => [
      run.method,
      `${(run.testAccuracy * 100).toFixed(2)}%`,
      run.loss.toFixed(4),
      run.flatness.average.toFixed(4),
      run.flatness.worst.toFixed(4),
      run.hessianEigenvalue.toFixed(3),
    ]),
  );
}
