#!/usr/bin/env node
/**
 * Pretrain an MNIST MLP on upright digits, freeze it, and fine-tune LoRA adapters on the same
 * digits rotated by 90° with plain Adam, SAM-LoRA and Flat-LoRA. Prints the test accuracy on
 * rotated (the new task) and upright (the old task) held-out digits, and draws the 1-D loss
 * landscapes of the three solutions (merged weights, held-out rotated digits) in one picture:
 * results/landscape.svg and results/landscape.png.
 *
 * `node dist/main.js [--quick]`
 */
import { useBestBackend } from '@flatmin/backend';
import { sharpnessAware } from '@flatmin/core';
import { loadMnist, toTensors } from '@flatmin/example-mnist/dist/data.js';
import { buildMlp } from '@flatmin/example-mnist/dist/model.js';
import { type LineResult, forModel, plotLine } from '@flatmin/landscape';
import { flatLoraNoise, loraScope, mergeLora, withLora } from '@flatmin/lora';
import { gradient } from '@flatmin/perturb-gradient';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { rotateDataset } from './rotate.js';

const quick = process.argv.includes('--quick');
const SETTINGS = quick
  ? { pretrain: 2000, finetune: 500, test: 1000, pretrainEpochs: 2, epochs: 4, batch: 50 }
  : { pretrain: 4000, finetune: 1000, test: 2000, pretrainEpochs: 3, epochs: 8, batch: 50 };
const RANK = 4;
const ALPHA = 8;
const SEED = 1;
/** Held-out rotated digits the landscapes are measured on, and the grid. */
const LANDSCAPE = quick ? { digits: 300, steps: 21 } : { digits: 1000, steps: 41 };
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

async function accuracy(model: tfl.LayersModel, data: { xs: tf.Tensor2D; ys: tf.Tensor2D }): Promise<number> {
  const [, acc] = model.evaluate(data.xs, data.ys, { batchSize: 1000 }) as tf.Scalar[];
  const value = (await acc!.data())[0]!;
  tf.dispose(acc);
  return value;
}

async function main(): Promise<void> {
  const backend = await useBestBackend();
  console.log(`backend: ${backend.name}`);
  // The training pool's first samples pretrain; the next ones (disjoint) are the fine-tuning set.
  const { train, test } = loadMnist(SETTINGS.pretrain + SETTINGS.finetune, SETTINGS.test);
  const pretrainSet = { images: train.images.subarray(0, SETTINGS.pretrain * 784), labels: train.labels.subarray(0, SETTINGS.pretrain), size: SETTINGS.pretrain };
  const finetuneSet = { images: train.images.subarray(SETTINGS.pretrain * 784), labels: train.labels.subarray(SETTINGS.pretrain), size: SETTINGS.finetune };
  const upright = toTensors(pretrainSet);
  const rotatedTrain = toTensors(rotateDataset(finetuneSet));
  const uprightTest = toTensors(test);
  const rotatedTest = toTensors(rotateDataset(test));

  const started = performance.now();
  const pretrained = buildMlp(SEED);
  pretrained.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  await pretrained.fit(upright.xs, upright.ys, { epochs: SETTINGS.pretrainEpochs, batchSize: SETTINGS.batch, shuffle: false, verbose: 0 });
  const before = { upright: await accuracy(pretrained, uprightTest), rotated: await accuracy(pretrained, rotatedTest) };
  console.log(`pretrained (${((performance.now() - started) / 1000).toFixed(0)} s): upright ${(100 * before.upright).toFixed(1)}%, rotated ${(100 * before.rotated).toFixed(1)}%`);

  const steps = Math.ceil(SETTINGS.finetune / SETTINGS.batch) * SETTINGS.epochs;
  const methods: Record<string, (model: tfl.LayersModel) => tf.Optimizer> = {
    'LoRA (Adam)': () => tf.train.adam(3e-3),
    'SAM-LoRA (ρ = 0.05, scope lora)': () => sharpnessAware({ base: tf.train.adam(3e-3), perturbation: gradient({ rho: 0.05 }), scope: loraScope('lora'), seed: SEED }),
    'Flat-LoRA (σ = 0.05, scope origin)': (model) =>
      sharpnessAware({ base: tf.train.adam(3e-3), perturbation: flatLoraNoise({ sigma: 0.05, totalSteps: steps }), scope: loraScope('origin'), seed: SEED }),
  };
  const rows: string[] = [];
  const lines: Record<string, LineResult> = {};
  const held = { x: tf.slice(rotatedTest.xs, [0, 0], [LANDSCAPE.digits, 784]), y: tf.slice(rotatedTest.ys, [0, 0], [LANDSCAPE.digits, 10]) };
  for (const [name, make] of Object.entries(methods)) {
    const model = withLora(pretrained, { rank: RANK, alpha: ALPHA, seed: SEED });
    const optimizer = make(model);
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const t0 = performance.now();
    await model.fit(rotatedTrain.xs, rotatedTrain.ys, { epochs: SETTINGS.epochs, batchSize: SETTINGS.batch, shuffle: false, verbose: 0 });
    const seconds = (performance.now() - t0) / 1000;
    const rotated = await accuracy(model, rotatedTest);
    const kept = await accuracy(model, uprightTest);
    // The landscape of the merged weight W₀ + (α/r)AᵀBᵀ: the same seed draws the same direction,
    // filter-normalized to each solution's own weights (Li et al. 2018).
    const merged = mergeLora(model);
    merged.compile({ optimizer: tf.train.sgd(0), loss: 'categoricalCrossentropy' });
    const line = await forModel(merged, held).lineLandscape({ seed: SEED, steps: LANDSCAPE.steps, range: [-1, 1] });
    lines[name.split(' (')[0]!] = line;
    const sharpness = Math.max(...line.loss) - line.base;
    rows.push(`| ${name} | ${(100 * rotated).toFixed(1)}% | ${(100 * kept).toFixed(1)}% | ${line.base.toFixed(3)} | ${sharpness.toFixed(3)} | ${seconds.toFixed(1)} s |`);
    console.log(rows.at(-1));
    merged.dispose();
    model.dispose();
    optimizer.dispose();
  }
  console.log(`\n${steps} fine-tuning steps of ${SETTINGS.finetune} rotated digits, rank ${RANK}, α ${ALPHA}; test on ${SETTINGS.test} held-out digits`);
  console.log(`landscape: L(w + sV), s ∈ [−1, 1] in ${LANDSCAPE.steps} points, on ${LANDSCAPE.digits} held-out rotated digits; "rise" = max over s of L − L(w)`);
  console.log('| method | rotated (new task) | upright (old task) | held-out loss L(w) | rise on [−1, 1] | fine-tune time |\n|---|---|---|---|---|---|');
  console.log(`| pretrained, no fine-tuning | ${(100 * before.rotated).toFixed(1)}% | ${(100 * before.upright).toFixed(1)}% | | | |`);
  for (const row of rows) console.log(row);
  const picture = await plotLine(lines, { title: 'LoRA on rotated MNIST: 1-D landscapes', log: true });
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'landscape.svg'), picture.svg);
  writeFileSync(join(RESULTS, 'landscape.png'), picture.png);
  console.log(`wrote ${join(RESULTS, 'landscape.svg')} and landscape.png`);
  tf.dispose([held.x, held.y]);
  tf.dispose([upright, rotatedTrain, uprightTest, rotatedTest]);
  pretrained.dispose();
}

await main();
