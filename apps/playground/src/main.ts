/**
 * The page: wires the form to the composer, the presets and the runs.
 *
 * @module
 */
import './style.css';
import '@tensorflow/tfjs';
import { chooseBackend } from './backend.js';
import { AVERAGERS, COMBINERS, type Composition, compose, describeComposition, PERTURBATIONS, SCHEDULES } from './compose.js';
import { FUNCTIONS, functionById, type Point, type TestFunction } from './functions.js';
import { type ContourPlot, contourPlot, lossPlot, RUN_COLORS } from './plot.js';
import { PRESETS, presetById } from './presets.js';
import { type RunResult, runOn } from './run.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);

function fill(sel: HTMLSelectElement, options: Record<string, string> | readonly { id: string; label: string }[]): void {
  const entries = Array.isArray(options) ? options.map((o) => [o.id, o.label] as const) : Object.entries(options);
  sel.replaceChildren(...entries.map(([value, text]) => new Option(text, value)));
}

let fn: TestFunction = FUNCTIONS[0]!;
let plot: ContourPlot;
let running = false;

function start(): Point {
  return [Number(input('start-x').value), Number(input('start-y').value)];
}

function setFunction(id: string): void {
  fn = functionById(id);
  $('formula').textContent = fn.formula;
  input('start-x').value = String(fn.start[0]);
  input('start-y').value = String(fn.start[1]);
  input('lr').value = String(fn.learningRate);
  input('steps').value = String(fn.steps);
  input('rho').value = String(fn.rho);
  plot = contourPlot($('contour'), fn);
  plot.start(fn.start);
  plot.svg.addEventListener('click', (event) => {
    const box = plot.svg.getBoundingClientRect();
    const [x, y] = plot.unproject(((event.clientX - box.left) / box.width) * 560, ((event.clientY - box.top) / box.height) * 420);
    input('start-x').value = x.toFixed(2);
    input('start-y').value = y.toFixed(2);
    plot.start(start());
  });
  lossPlot($('loss'), []);
  $('results').querySelector('tbody')!.replaceChildren();
}

function composition(): Composition {
  return {
    perturbation: select('perturbation').value as Composition['perturbation'],
    rho: Number(input('rho').value),
    schedule: select('schedule').value as Composition['schedule'],
    k: Number(input('k').value),
    p: Number(input('p').value),
    combiner: select('combiner').value as Composition['combiner'],
    lambda: Number(input('lambda').value),
    averager: select('averager').value as Composition['averager'],
  };
}

function showPreset(): void {
  const id = select('preset').value;
  const custom = id === 'custom';
  $('composer').classList.toggle('disabled', !custom);
  for (const node of $('composer').querySelectorAll('select, input')) (node as HTMLInputElement).disabled = !custom;
  if (custom) $('preset-parts').textContent = describeComposition(composition());
  else {
    const preset = presetById(id);
    $('preset-parts').textContent = `${preset.parts} — ${preset.paper}`;
  }
}

function resultRow(result: RunResult, index: number): HTMLTableRowElement {
  const row = document.createElement('tr');
  Object.assign(row.dataset, {
    testid: 'result',
    run: result.label,
    basin: result.basin,
    x: String(result.end[0]),
    y: String(result.end[1]),
    loss: String(result.loss),
    sharpness: String(result.sharpness),
  });
  const swatch = `<span class="swatch" style="background:${RUN_COLORS[index % RUN_COLORS.length]}"></span>`;
  const cells = [
    `${swatch}${result.label}`,
    `(${result.end[0].toFixed(3)}, ${result.end[1].toFixed(3)})${result.averaged ? ' averaged' : ''}`,
    result.loss.toFixed(4),
    result.sharpness.toFixed(2),
    result.basin,
  ];
  row.innerHTML = cells.map((c) => `<td>${c}</td>`).join('');
  return row;
}

async function run(): Promise<void> {
  if (running) return;
  running = true;
  const button = $<HTMLButtonElement>('run');
  button.disabled = true;
  try {
    const settings = { learningRate: Number(input('lr').value), steps: Math.round(Number(input('steps').value)), seed: Math.round(Number(input('seed').value)) };
    const rho = Number(input('rho').value);
    const id = select('preset').value;
    const label = id === 'custom' ? 'composed' : presetById(id).label;
    const runs: { label: string; make: () => import('@tensorflow/tfjs-core').Optimizer }[] = [
      { label, make: () => (id === 'custom' ? compose(composition(), settings) : presetById(id).create({ ...settings, rho })) },
    ];
    if (input('baseline').checked && id !== 'sgd') runs.push({ label: 'SGD', make: () => presetById('sgd').create({ ...settings, rho }) });
    plot.clear();
    plot.start(start());
    const tbody = $('results').querySelector('tbody')!;
    tbody.replaceChildren();
    const results: RunResult[] = [];
    for (const [index, r] of runs.entries()) {
      $('status').textContent = `running ${r.label}…`;
      const result = await runOn(fn, r.make(), {
        label: r.label,
        start: start(),
        steps: settings.steps,
        onChunk: (trajectory) => plot.trajectory(index, r.label, trajectory),
      });
      plot.trajectory(index, r.label, result.trajectory, result.end);
      results.push(result);
      tbody.append(resultRow(result, index));
      lossPlot($('loss'), results);
    }
    $('status').textContent = `done: ${settings.steps} steps each`;
  } catch (error) {
    $('status').textContent = `error: ${(error as Error).message}`;
    throw error;
  } finally {
    running = false;
    button.disabled = false;
  }
}

async function main(): Promise<void> {
  fill(select('function'), FUNCTIONS.map((f) => ({ id: f.id, label: f.name })));
  fill(select('preset'), [...PRESETS, { id: 'custom', label: 'custom — compose below' }]);
  fill(select('perturbation'), PERTURBATIONS);
  fill(select('schedule'), SCHEDULES);
  fill(select('combiner'), COMBINERS);
  fill(select('averager'), AVERAGERS);
  setFunction(fn.id);
  showPreset();
  select('function').addEventListener('change', () => setFunction(select('function').value));
  select('preset').addEventListener('change', showPreset);
  $('composer').addEventListener('change', showPreset);
  input('rho').addEventListener('change', showPreset);
  for (const id of ['start-x', 'start-y']) input(id).addEventListener('change', () => plot.start(start()));
  $('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  $('backend').textContent = await chooseBackend();
  document.body.dataset.ready = 'true';
}

void main();
