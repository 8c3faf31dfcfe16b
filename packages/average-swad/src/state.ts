/**
 * SWAD's state in the optimizer's flat `ComponentState`: the detector's host numbers under plain
 * keys, the running sums on the device under per-variable keys (`<variable>:open`,
 * `<variable>:segment<k>`, `<variable>:confirmed`) with a float32 count each (`open.count`, …).
 * Counts live on the device so that a step the non-finite guard skips leaves sum and count as they were.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ComponentState } from '@flatmin/core';
import { type Evaluation, EMPTY_VALLEY, type Phase, type Segment, type Valley } from './valley.js';

const SCALARS = ['updates', 'evaluations', 'phase', 'threshold', 'converge', 'start', 'end', 'first', 'confirmedUpdates'] as const;

/** The host numbers of a valley, as state entries. */
export function encodeValley(valley: Valley): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of SCALARS) out[key] = valley[key];
  out['history.length'] = valley.history.length;
  valley.history.forEach((e, i) => {
    out[`history.${i}.index`] = e.index;
    out[`history.${i}.at`] = e.at;
    out[`history.${i}.loss`] = e.loss;
  });
  out['segments.length'] = valley.segments.length;
  valley.segments.forEach((s, i) => {
    out[`segments.${i}.index`] = s.index;
    out[`segments.${i}.from`] = s.from;
    out[`segments.${i}.to`] = s.to;
  });
  return out;
}

/** The valley a state holds (the empty one for a fresh state). */
export function decodeValley(state: ComponentState): Valley {
  if (typeof state['updates'] !== 'number') return EMPTY_VALLEY;
  const n = (key: string): number => state[key] as number;
  const history: Evaluation[] = [];
  for (let i = 0; i < n('history.length'); i += 1) history.push({ index: n(`history.${i}.index`), at: n(`history.${i}.at`), loss: n(`history.${i}.loss`) });
  const segments: Segment[] = [];
  for (let i = 0; i < n('segments.length'); i += 1) segments.push({ index: n(`segments.${i}.index`), from: n(`segments.${i}.from`), to: n(`segments.${i}.to`) });
  return {
    updates: n('updates'),
    evaluations: n('evaluations'),
    phase: n('phase') as Phase,
    threshold: n('threshold'),
    converge: n('converge'),
    start: n('start'),
    end: n('end'),
    first: n('first'),
    confirmedUpdates: n('confirmedUpdates'),
    history,
    segments,
  };
}

/** A sum on the device: per-variable tensors and its count. */
export interface Sum {
  readonly tensors: Readonly<Record<string, tf.Tensor>>;
  readonly count: tf.Scalar;
}

/** The device sums of a state, by slot (`open`, `segment3`, `confirmed`). */
export type Sums = Map<string, Sum>;

/** Split a state's tensors into sums by slot. */
export function sumsOf(state: ComponentState): Sums {
  const tensors = new Map<string, Record<string, tf.Tensor>>();
  const counts = new Map<string, tf.Scalar>();
  for (const [key, value] of Object.entries(state)) {
    if (typeof value === 'number') continue;
    const colon = key.lastIndexOf(':');
    if (colon >= 0) {
      const slot = key.slice(colon + 1);
      if (!tensors.has(slot)) tensors.set(slot, {});
      tensors.get(slot)![key.slice(0, colon)] = value;
    } else if (key.endsWith('.count')) {
      counts.set(key.slice(0, -'.count'.length), value as tf.Scalar);
    }
  }
  const out: Sums = new Map();
  for (const [slot, count] of counts) out.set(slot, { tensors: tensors.get(slot) ?? {}, count });
  return out;
}

/** The state of a valley and its sums. */
export function stateOf(valley: Valley, sums: Sums): ComponentState {
  const out: Record<string, tf.Tensor | number> = encodeValley(valley);
  for (const [slot, sum] of sums) {
    out[`${slot}.count`] = sum.count;
    for (const [name, tensor] of Object.entries(sum.tensors)) out[`${name}:${slot}`] = tensor;
  }
  return out;
}
