// An interrupted MESA run resumes exactly: 10 steps + save (student weights, the optimizer's or the
// handle's getWeights) + restore into a fresh student, teacher, optimizer / handle + 10 steps gives
// the same per-step losses and the same student and teacher weights, bit for bit, as 20 steps —
// under model.fit (shuffle: false) with BatchNormalization, attached to sharpnessAware and standalone.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type NamedWeight, sharpnessAware } from '@flatmin/core';
import { fitData } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { type MesaAverager, mesa } from '../src/index.js';
import { bnStudent } from './models.js';

const student = bnStudent;
const crossEntropy = (yt: tf.Tensor, z: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(yt, tf.logSoftmax(z)), -1)));
const values = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
const copies = (weights: readonly NamedWeight[]) => weights.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));

/** A MESA run: its student, teacher, the trainer compiled with `optimizer`, and the fit callbacks. */
interface Run {
  readonly student: tfl.Sequential;
  readonly teacher: tfl.LayersModel;
  fit(epochs: number): Promise<number[]>;
  save(): Promise<NamedWeight[]>;
  restore(saved: NamedWeight[]): Promise<void>;
  dispose(): void;
}

function attachedRun(): Run {
  const s = student();
  const averager: MesaAverager = mesa({ decay: 0.8, tau: 2 });
  const { model, teacher } = averager.teach(s);
  const optimizer = sharpnessAware({ base: tf.train.momentum(0.1, 0.9), perturbation: gradient({ rho: 0.05 }), averager });
  model.compile({ optimizer, loss: averager.loss(crossEntropy) });
  return runOf(s, teacher, model, [], {
    save: async () => copies(await optimizer.getWeights()),
    restore: (saved) => optimizer.setWeights(saved),
    dispose: () => optimizer.dispose(),
  });
}

function standaloneRun(): Run {
  const s = student();
  const averager = mesa({ decay: 0.8, tau: 2 });
  const { model, teacher } = averager.teach(s);
  const handle = averager.attach(s);
  model.compile({ optimizer: tf.train.sgd(0.1), loss: averager.loss(crossEntropy) });
  return runOf(s, teacher, model, [handle.callback({ applyOnTrainEnd: false })], {
    save: async () => handle.getWeights(),
    restore: (saved) => handle.setWeights(saved),
    dispose: () => handle.dispose(),
  });
}

function runOf(s: tfl.Sequential, teacher: tfl.LayersModel, model: tfl.LayersModel, callbacks: tfl.CustomCallbackArgs[], own: Pick<Run, 'save' | 'restore' | 'dispose'>): Run {
  const { x, y } = fitData(40);
  return {
    student: s,
    teacher,
    fit: async (epochs) => {
      const losses: number[] = [];
      const recorder = { onBatchEnd: async (_b: number, logs?: tfl.Logs) => void losses.push(logs!['loss'] as number) };
      await model.fit(x, y, { epochs, batchSize: 4, shuffle: false, verbose: 0, callbacks: [...callbacks, recorder] });
      return losses;
    },
    save: own.save,
    restore: own.restore,
    dispose: () => {
      own.dispose();
      tf.dispose([x, y]);
      model.dispose();
      teacher.dispose();
    },
  };
}

describe.each([
  ['attached to sharpnessAware (momentum base)', attachedRun],
  ['standalone next to tf.train.sgd', standaloneRun],
] as const)('MESA resumes exactly: %s', (_title, make) => {
  it('10 steps + save/restore into a fresh student, teacher and optimizer + 10 steps == 20 steps, bit for bit', async () => {
    const straight = make();
    const expectedLosses = await straight.fit(2);
    expect(expectedLosses).toHaveLength(20);

    const first = make();
    const firstLosses = await first.fit(1);
    const savedState = await first.save();
    const savedStudent = first.student.getWeights().map((w) => tf.clone(w));
    const teacherAt10 = values(first.teacher);
    first.dispose();

    const second = make(); // new variable names: the state follows by position
    second.student.setWeights(savedStudent);
    await second.restore(savedState);
    tf.dispose([...savedStudent, ...savedState.map((w) => w.tensor)]);
    // Standalone, the teacher is back at once (the handle re-keys the state in setWeights);
    // attached, before the next step (the optimizer learns the new names from it).
    if (make === standaloneRun) expect(values(second.teacher)).toEqual(teacherAt10);
    const secondLosses = await second.fit(1);

    expect([...firstLosses, ...secondLosses]).toEqual(expectedLosses);
    expect(values(second.student)).toEqual(values(straight.student));
    expect(values(second.teacher)).toEqual(values(straight.teacher));
    // The teacher differs from the student (the resumed trajectory term was live).
    expect(values(second.teacher)).not.toEqual(values(second.student));
    straight.dispose();
    second.dispose();
  });
});
