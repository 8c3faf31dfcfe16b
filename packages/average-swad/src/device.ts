/**
 * The device side of SWAD: the detector's actions on the running sums, the per-update sum, and
 * the mean apply() swaps in. Every function here is pure (new tensors, none disposed): the
 * optimizer's step scope (or the standalone handle) owns and frees what the new state drops.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@flatmin/core';
import type { Sum, Sums } from './state.js';
import { type Action, fallbackIndex, flushed, type Segment, type Valley } from './valley.js';

/** The slot of segment `index`. */
export const segmentSlot = (index: number): string => `segment${index}`;

/** Apply the detector's actions to the sums (close: the open segment becomes segment k). */
export function applyActions(sums: Sums, actions: readonly Action[]): Sums {
  const out: Sums = new Map(sums);
  for (const action of actions) {
    const slot = segmentSlot(action.index);
    if (action.type === 'close') {
      const open = out.get('open');
      out.delete('open');
      if (open !== undefined) out.set(slot, open);
    } else if (action.type === 'confirm') {
      const segment = out.get(slot);
      out.delete(slot);
      if (segment === undefined) continue;
      const confirmed = out.get('confirmed');
      out.set('confirmed', confirmed === undefined ? segment : add(confirmed, segment));
    } else {
      out.delete(slot);
    }
  }
  return out;
}

/** Add the new weights to the open segment. */
export function addWeights(sums: Sums, variables: readonly tf.Variable[]): Sums {
  const out: Sums = new Map(sums);
  const open = out.get('open');
  const tensors: Record<string, tf.Tensor> = {};
  for (const v of variables) {
    const previous = open?.tensors[v.name];
    tensors[v.name] = previous === undefined ? tf.clone(v) : tf.add(previous, v);
  }
  out.set('open', { tensors, count: (open === undefined ? tf.scalar(1) : tf.add(open.count, 1)) as tf.Scalar });
  return out;
}

function add(a: Sum, b: Sum): Sum {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(a.tensors)) {
    const other = b.tensors[name];
    tensors[name] = other === undefined ? t : tf.add(t, other);
  }
  for (const [name, t] of Object.entries(b.tensors)) if (tensors[name] === undefined) tensors[name] = t;
  return { tensors, count: tf.add(a.count, b.count) as tf.Scalar };
}

const updatesIn = (s: Segment): number => s.to - s.from + 1;

/**
 * The slots apply() averages: the confirmed sum and the flushed pending segments when they hold
 * an update; else the fallback segment (the official code's choice); else the open segment.
 */
export function averagedSlots(valley: Valley): string[] {
  if (valley.phase !== 0) {
    const pending = flushed(valley);
    if (valley.confirmedUpdates + pending.reduce((n, s) => n + updatesIn(s), 0) > 0) {
      return [...(valley.confirmedUpdates > 0 ? ['confirmed'] : []), ...pending.map((s) => segmentSlot(s.index))];
    }
  }
  const fallback = valley.segments.find((s) => s.index === fallbackIndex(valley));
  if (fallback !== undefined && updatesIn(fallback) > 0) return [segmentSlot(fallback.index)];
  return ['open'];
}

/**
 * The mean over `slots`, per variable: Σ sums / Σ counts. Where the count is 0 on the device (a
 * skipped step emptied a sum) the variable's current value is returned instead of 0/0.
 */
export function meanOf(sums: Sums, slots: readonly string[], variables: ReadonlyMap<string, tf.Tensor>): NamedTensors {
  const parts = slots.map((slot) => sums.get(slot)).filter((s): s is Sum => s !== undefined);
  if (parts.length === 0) return {};
  const total = parts.reduce(add);
  const positive = tf.greater(total.count, 0);
  const out: NamedTensors = {};
  for (const [name, sum] of Object.entries(total.tensors)) {
    const current = variables.get(name);
    const mean = tf.div(sum, tf.maximum(total.count, 1));
    out[name] = current === undefined ? mean : tf.where(tf.broadcastTo(positive, mean.shape), mean, current);
  }
  return out;
}
