/**
 * A per-stage look for the generators benchmark: the ops that the generators add to a step, timed
 * alone on the benchmark's parameters (median of a few repetitions, each settled), so their cost can
 * be put in % of a base step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { normalDraws } from '@flatmin/perturb-noise';
import { settle } from './measure.js';
import { median } from './stats.js';

export interface OpCost {
  readonly key: string;
  readonly label: string;
  /** How often a step runs it (per step of the generator that uses it). */
  readonly perStep: string;
  /** Median wall seconds of one run, and of this process's CPU time. */
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly rounds: number[];
  readonly cpuRounds: number[];
}

/** The ops, each run `repetitions` times after two warm-up runs. */
export async function opCosts(variables: readonly tf.Variable[], repetitions: number): Promise<OpCost[]> {
  const total = variables.reduce((sum, v) => sum + v.size, 0);
  let seed = 1;
  const ops: { key: string; label: string; perStep: string; run: () => tf.Tensor | tf.Tensor[] }[] = [
    {
      key: 'randomNormal',
      label: `tf.randomNormal for every variable (${total} values: one ε draw)`,
      perStep: '1× gaussian/filterNoise/fisherNoise/RWP, k× worstOfK',
      run: () => variables.map((v) => tf.randomNormal(v.shape, 0, 1, 'float32', seed++)),
    },
    {
      key: 'normalDraws',
      label: `normalDraws: the same draw from one seed (sfc32 + ziggurat): on wasm one kernel in place on the heap, elsewhere one host buffer, one tensor per variable from its view`,
      perStep: '1× gaussian/filterNoise/fisherNoise/RWP, k× worstOfK (since the one-buffer draws)',
      run: () => normalDraws(seed++, variables.map((v) => v.shape)),
    },
    {
      key: 'perturbRestore',
      label: 'w ← w + ε and back, every variable (one forward-only evaluation’s bookkeeping)',
      perStep: 'k× worstOfK',
      run: () => {
        const eps = variables.map((v) => tf.zerosLike(v));
        const kept = variables.map((v) => tf.reshape(v, v.shape));
        for (const [i, v] of variables.entries()) v.assign(tf.add(v, eps[i]!));
        for (const [i, v] of variables.entries()) v.assign(kept[i]!);
        return [...eps, ...kept];
      },
    },
    {
      key: 'topk',
      label: `tf.topk over all ${total} parameters, k = ${Math.round(total / 2)}, + scatter to a 0/1 mask`,
      perStep: '1× per refresh (every 5 steps) fisherMask; 2× dynamicMask',
      run: () => {
        const flat = tf.concat(variables.map((v) => tf.reshape(v, [-1])));
        const k = Math.round(total / 2);
        const indices = tf.topk(tf.abs(flat), k).indices;
        return tf.scatterND(tf.expandDims(indices, 1), tf.ones([k]), [total]);
      },
    },
    {
      key: 'topkThreshold',
      label: `the same mask as a threshold: unsorted tf.topk → its min t (the k-th largest), then |w| ≥ t per variable`,
      perStep: '1× per refresh (every 5 steps) fisherMask (since the threshold refresh)',
      run: () => {
        const k = Math.round(total / 2);
        const scores = variables.map((v) => tf.abs(v));
        const t = tf.tidy(() => tf.min(tf.topk(tf.concat(scores.map((s) => tf.reshape(s, [-1]))), k, false).values));
        return scores.map((s) => tf.cast(tf.greaterEqual(s, t), 'float32'));
      },
    },
  ];
  const results: OpCost[] = [];
  for (const op of ops) {
    const rounds: number[] = [];
    const cpuRounds: number[] = [];
    for (let r = 0; r < repetitions + 2; r++) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const out = tf.tidy(op.run);
      const list = Array.isArray(out) ? out : [out];
      await settle(list[0]!);
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      tf.dispose(list);
      if (r >= 2) {
        rounds.push(seconds);
        cpuRounds.push((used.user + used.system) / 1e6);
      }
    }
    results.push({ key: op.key, label: op.label, perStep: op.perStep, seconds: median(rounds), cpuSeconds: median(cpuRounds), rounds, cpuRounds });
  }
  return results;
}
