/**
 * One step's tensor ownership and its transaction, in one place.
 *
 * - Every tensor a stage makes is *owned* by the scope ({@link StepScope.tidy}, {@link StepScope.own})
 *   and disposed when the step ends, unless it was handed out ({@link StepScope.release}) or ended
 *   up in a component's committed state.
 * - Component states are *staged* during the step and *committed* at its end (selected against the
 *   old state on the device when the non-finite guard is on), or dropped if the step throws.
 * - Variables the base optimizer (and decoupled weight decay) write are recorded with a handle on
 *   their old data, so a skipped step selects the old values and a thrown step puts them back.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentKind } from '../registry.js';
import { replaceState, stateTensors } from '../state.js';
import { sameSignature, shareData } from '../tensor-math.js';
import { pick } from './pick.js';
import type { ComponentState, NamedTensors } from '../types.js';

/** The optimizer-held states a scope stages against. */
export type ComponentStates = Record<ComponentKind, ComponentState>;

/** The device verdict of the non-finite guard. */
export interface Verdict {
  /** 1 (a finite step) or 0 (skipped), as float32. */
  readonly ok: tf.Scalar;
}

export class StepScope {
  private readonly owned = new Set<tf.Tensor>();
  private readonly released = new Set<tf.Tensor>();
  private readonly staged = new Map<ComponentKind, ComponentState>();
  private readonly writes = new Map<tf.Variable, tf.Tensor>();
  private iterationsBefore: number | null = null;
  private readonly undo: Array<() => void> = [];

  /** Something to take back if the step throws (a cache entry made during it). */
  onRollback(fn: () => void): void {
    this.undo.push(fn);
  }

  constructor(private readonly states: ComponentStates) {}

  /**
   * Run `fn` in a `tf.tidy` and own every tensor it returns. They are kept, so they also survive
   * an enclosing tidy (a component method asking for ‖g‖, a user's tidy around `minimize`).
   */
  tidy<T>(fn: () => T): T {
    const result = tf.tidy(fn as () => tf.TensorContainer) as T;
    for (const t of tensorsIn(result as tf.TensorContainer)) this.owned.add(tf.keep(t));
    return result;
  }

  /** Own a tensor made outside {@link tidy} (e.g. by `engine.gradients`). */
  own<T extends tf.Tensor>(tensor: T): T {
    tf.keep(tensor);
    this.owned.add(tensor);
    return tensor;
  }

  /** Own every tensor of a named map. */
  ownAll(tensors: NamedTensors): NamedTensors {
    for (const t of Object.values(tensors)) this.own(t);
    return tensors;
  }

  /** Hand a tensor out of the step: it survives the step (kept), and the caller owns it. */
  release<T extends tf.Tensor>(tensor: T): T {
    this.released.add(tensor);
    return tf.keep(tensor);
  }

  /** Dispose an owned tensor early (a parameter-sized buffer nobody needs any more). */
  drop(tensors: Iterable<tf.Tensor>): void {
    const spare = this.spared();
    for (const t of tensors) {
      if (spare.has(t) || !this.owned.delete(t)) continue;
      t.dispose();
    }
  }

  /** The state of `kind` as the step sees it: staged this step, else the committed one. */
  stateOf(kind: ComponentKind): ComponentState {
    return this.staged.get(kind) ?? this.states[kind];
  }

  /** Run a component method in a tidy; stage its new state; own the rest of its result. */
  run<R extends { state?: ComponentState }>(kind: ComponentKind, fn: (state: ComponentState) => R): Omit<R, 'state'> {
    const result = tf.tidy(() => fn(this.stateOf(kind)) as unknown as tf.TensorContainer) as unknown as R;
    const { state, ...rest } = result;
    if (state !== undefined) this.stage(kind, state);
    for (const t of tensorsIn(rest as tf.TensorContainer)) this.owned.add(tf.keep(t));
    return rest;
  }

  /** Stage a new state for `kind` (committed at the end of the step). */
  stage(kind: ComponentKind, state: ComponentState): void {
    for (const t of stateTensors(state)) tf.keep(t);
    const previous = this.staged.get(kind);
    this.staged.set(kind, state);
    if (previous !== undefined) this.disposeUnreferenced(stateTensors(previous));
  }

  /** Record the old data of every variable `fn` assigns (the base update, decoupled decay). */
  recordWrites(base: tf.Optimizer, fn: () => void): void {
    this.iterationsBefore ??= base.iterations;
    const prototype = tf.Variable.prototype as unknown as { assign: (this: tf.Variable, v: tf.Tensor) => void };
    const original = prototype.assign;
    const writes = this.writes;
    prototype.assign = function (this: tf.Variable, value: tf.Tensor): void {
      if (!writes.has(this)) writes.set(this, tf.keep(shareData(this)));
      original.call(this, value);
    };
    try {
      fn();
    } finally {
      prototype.assign = original;
    }
  }

  /**
   * Commit the staged states and the recorded writes. With a verdict (`onNonFinite: 'skip'`), a
   * skipped step keeps every old value: selected on the device, no host read.
   */
  commit(verdict: Verdict | null): void {
    for (const [variable, before] of this.writes) {
      if (verdict !== null) {
        const chosen = pick(verdict.ok, variable, before);
        variable.assign(chosen);
        chosen.dispose();
      }
      before.dispose();
    }
    this.writes.clear();
    for (const [kind, next] of [...this.staged]) {
      const previous = this.states[kind];
      const merged = verdict === null ? next : selectState(verdict.ok, next, previous);
      this.staged.delete(kind);
      this.states[kind] = replaceState(previous, merged);
      if (merged !== next) this.disposeUnreferenced(stateTensors(next));
    }
  }

  /** Undo everything: staged states dropped, recorded variables and the base's counter put back. */
  rollback(base: tf.Optimizer): void {
    for (const [variable, before] of this.writes) {
      if (variable.dataId !== before.dataId) variable.assign(before);
      before.dispose();
    }
    this.writes.clear();
    if (this.iterationsBefore !== null) (base as unknown as { iterations_: number }).iterations_ = this.iterationsBefore;
    for (const state of this.staged.values()) this.disposeUnreferenced(stateTensors(state));
    this.staged.clear();
    for (const fn of this.undo.splice(0)) fn();
  }

  /** Dispose every owned tensor that was not released and is not held by a component state. */
  dispose(): void {
    const spare = this.spared();
    for (const t of this.owned) if (!spare.has(t) && !t.isDisposed) t.dispose();
    this.owned.clear();
  }

  private spared(): Set<tf.Tensor> {
    const spare = new Set(this.released);
    for (const state of [...Object.values(this.states), ...this.staged.values()]) for (const t of stateTensors(state)) spare.add(t);
    return spare;
  }

  /** Dispose state tensors no committed or staged state (and no owner) still holds. */
  private disposeUnreferenced(tensors: tf.Tensor[]): void {
    const spare = this.spared();
    for (const t of tensors) if (!spare.has(t) && !this.owned.has(t) && !t.isDisposed) t.dispose();
  }
}

/** Per key: the new value on a finite step, the old one on a skipped step (exactly, for any dtype and value). */
function selectState(ok: tf.Scalar, next: ComponentState, previous: ComponentState): ComponentState {
  const out: Record<string, tf.Tensor | number> = {};
  for (const [key, value] of Object.entries(next)) {
    const old = previous[key];
    if (typeof value === 'number' || value === old) {
      out[key] = value;
      continue;
    }
    out[key] = tf.keep(
      tf.tidy(() => {
        const fallback = old !== undefined && typeof old !== 'number' && sameSignature(old, value) ? old : tf.zerosLike(value);
        return pick(ok, value, fallback);
      }),
    );
  }
  return out;
}


function tensorsIn(container: tf.TensorContainer): tf.Tensor[] {
  if (container instanceof tf.Tensor) return [container];
  const out: tf.Tensor[] = [];
  if (container !== null && typeof container === 'object') {
    for (const value of Object.values(container as Record<string, tf.TensorContainer>)) out.push(...tensorsIn(value));
  }
  return out;
}
