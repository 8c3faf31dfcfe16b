/**
 * Calls of the loss closure that `model.fit` must not see.
 *
 * A step calls the closure more than once (the clean pass at w, the adversarial pass at
 * w + ε, forward-only evaluations). Exactly one call per step is *visible*: its loss,
 * metrics, BatchNorm statistics and layer state are what the caller (tfjs-layers' `fit`,
 * `trainOnBatch`, `fitDataset`, or a custom loop) sees. Every other call runs in a sandbox
 * that undoes what the closure did besides returning the loss:
 *
 * - variables it assigned (BatchNorm moving statistics, any `variable.assign` in the closure)
 *   get their values back (the old data is kept by a handle that shares it: no copy);
 * - tensors it `tf.keep`s and pushes into an array (tfjs-layers' metric values) are not pushed
 *   and are disposed, so the caller's arrays hold the visible call's entries only; so is a push
 *   of an array made only of tensors kept in this step (a stateful RNN's `keptStates` entry);
 * - a tensor it keeps without pushing (a stateful RNN's carried state, a "last value" field) is
 *   made to hold the data of the visible call's keep at the same position (when that call came
 *   first, was not pushed, and the shapes match), and the visible call's handle — which that
 *   field held and no longer does — is disposed, so the field sees the visible call's values
 *   and nothing is left over; otherwise it is left to the closure, as tfjs would.
 *
 * Known limit: a later call reads what the visible call left in such fields (a stateful RNN's
 * adversarial pass starts from the state the clean pass carried forward, not from the state the
 * clean pass started from).
 *
 * The hooks (engine `keep`, `Variable.prototype.assign`, `Array.prototype.push` from the first
 * keep on) are installed only while the closure body runs, and removed in a `finally`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { sameSignature, shareData } from '../tensor-math.js';

/** What a visible call kept without pushing, in order: the counterparts of a sandboxed call's keeps. */
export type VisibleKeeps = tf.Tensor[];

/** What one sandboxed call did, to be undone once its gradient has been taken. */
export interface SideEffects {
  /** Variables the closure assigned, with a handle on their value before the first write. */
  readonly writes: Map<tf.Variable, tf.Tensor>;
  /** Every `tf.keep` call of the closure, in order, and whether the tensor was not kept before. */
  readonly kept: Array<{ readonly tensor: tf.Tensor; readonly fresh: boolean }>;
  /**
   * Kept tensors pushed into an array: in a sandboxed call those pushes were dropped; in the
   * visible call they were made (the caller holds them).
   */
  readonly pushed: Set<tf.Tensor>;
}

type Engine = ReturnType<typeof tf.engine> & { keep: <T extends tf.Tensor>(t: T) => T };
type Assign = (this: tf.Variable, value: tf.Tensor) => void;

/**
 * How a call is recorded: `'visible'` records its keeps (the counterparts of later calls);
 * `'sandbox'` records everything to undo; `'writes'` only the variable writes (for
 * `keptInAdversarialPass: 'keep'`).
 */
export type CallMode = 'visible' | 'sandbox' | 'writes';

/**
 * Install the recording hooks around one run of `body`; what it did is collected in `effects`.
 * `trackWrites` also records a visible call's variable writes, so that {@link discardCall} can put
 * them back if the step fails right after the call (a closure whose outputs a component refuses).
 */
export function recordSideEffects<T>(body: () => T, effects: SideEffects, mode: CallMode, earlier: VisibleKeeps | null = null, trackWrites = false): T {
  if (mode === 'writes') return recordWrites(body, effects);
  const earlierKeeps = new Set(earlier ?? []);
  const engine = tf.engine() as Engine;
  const ownKeep = Object.hasOwn(engine, 'keep');
  const originalKeep = engine.keep;
  const prototype = tf.Variable.prototype as unknown as { assign: Assign };
  const originalAssign = prototype.assign;
  const arrayPrototype = Array.prototype as unknown as { push: (...items: unknown[]) => number };
  const originalPush = arrayPrototype.push;
  let pushFilterOn = false;
  const keptHere = new Set<tf.Tensor>();
  engine.keep = <K extends tf.Tensor>(tensor: K): K => {
    const fresh = !tensor.kept;
    const result = originalKeep.call(engine, tensor) as K;
    effects.kept.push({ tensor, fresh });
    keptHere.add(tensor);
    if (!pushFilterOn) {
      pushFilterOn = true;
      const drops = mode === 'sandbox';
      arrayPrototype.push = function (this: unknown[], ...items: unknown[]): number {
        if (items.length === 1) {
          const item = items[0];
          if (keptHere.has(item as tf.Tensor)) {
            effects.pushed.add(item as tf.Tensor);
            if (drops) return this.length;
          } else if (drops && Array.isArray(item) && item.length > 0 && item.every((t) => keptHere.has(t) || earlierKeeps.has(t))) {
            return this.length;
          }
        }
        return originalPush.apply(this, items);
      };
    }
    return result;
  };
  if (mode === 'sandbox' || trackWrites) {
    prototype.assign = function (this: tf.Variable, value: tf.Tensor): void {
      if (!effects.writes.has(this)) effects.writes.set(this, originalKeep.call(engine, shareData(this)));
      originalAssign.call(this, value);
    };
  }
  try {
    return body();
  } finally {
    if (pushFilterOn) arrayPrototype.push = originalPush;
    prototype.assign = originalAssign;
    if (ownKeep) engine.keep = originalKeep;
    else delete (engine as { keep?: unknown }).keep;
  }
}

function recordWrites<T>(body: () => T, effects: SideEffects): T {
  const engine = tf.engine() as Engine;
  const prototype = tf.Variable.prototype as unknown as { assign: Assign };
  const originalAssign = prototype.assign;
  prototype.assign = function (this: tf.Variable, value: tf.Tensor): void {
    if (!effects.writes.has(this)) effects.writes.set(this, engine.keep(shareData(this)));
    originalAssign.call(this, value);
  };
  try {
    return body();
  } finally {
    prototype.assign = originalAssign;
  }
}

/**
 * Undo a visible call after the step failed (the closure threw, or returned what a component
 * cannot use): its variable writes (when tracked) get their old values back and every tensor it
 * kept for the first time is disposed — the caller that would have held them is unwinding.
 */
export function discardCall(effects: SideEffects): void {
  restoreWrites(effects);
  for (const { tensor, fresh } of effects.kept) if (fresh && !tensor.isDisposed) tensor.dispose();
  effects.kept.length = 0;
  effects.pushed.clear();
}

/** Give every variable a call wrote its value from before the call, and free the handles on it. */
function restoreWrites(effects: SideEffects): void {
  for (const [variable, before] of effects.writes) {
    if (!variable.isDisposed && variable.dataId !== before.dataId) variable.assign(before);
    before.dispose();
  }
  effects.writes.clear();
}

/** Forget a visible call's tracked writes (it stands: the handles on the old values are freed). */
export function releaseWrites(effects: SideEffects): void {
  for (const before of effects.writes.values()) before.dispose();
  effects.writes.clear();
}

/** An empty record. */
export function noSideEffects(): SideEffects {
  return { writes: new Map(), kept: [], pushed: new Set() };
}

/**
 * Undo a sandboxed call: restore the variables it wrote, dispose the kept tensors whose push was
 * dropped, and point the other fresh keeps at the visible call's data (see the module comment).
 */
export function undoSideEffects(effects: SideEffects, visible: VisibleKeeps | null, visiblePushed: ReadonlySet<tf.Tensor>): void {
  restoreWrites(effects);
  // The same closure keeps the same sequence of tensors on every call: the i-th keep here
  // stands for the i-th keep of the visible call.
  effects.kept.forEach(({ tensor, fresh }, position) => {
    if (!fresh || tensor.isDisposed) return;
    if (effects.pushed.has(tensor)) {
      tensor.dispose();
      return;
    }
    const counterpart = visible?.[position];
    if (visible === null || counterpart === undefined || counterpart.isDisposed || visiblePushed.has(counterpart) || !sameSignature(counterpart, tensor)) return;
    aliasData(tensor, counterpart);
    // The field that held the visible call's handle holds this one now: it takes its place.
    if (counterpart !== tensor) counterpart.dispose();
    visible[position] = tensor;
  });
  effects.kept.length = 0;
  effects.pushed.clear();
}

/** The visible call's keeps, in order (the counterparts of a sandboxed call's keeps), and which of them it pushed. */
export function visibleKeeps(effects: SideEffects): { keeps: VisibleKeeps; pushed: Set<tf.Tensor> } {
  return { keeps: effects.kept.map(({ tensor }) => tensor), pushed: new Set(effects.pushed) };
}


/**
 * Make `target` hold `source`'s data (reference counted, no copy), as `Variable.assign` does for
 * a variable: the old data of `target` is released.
 */
function aliasData(target: tf.Tensor, source: tf.Tensor): void {
  if (target.dataId === source.dataId) return;
  (tf.Variable.prototype.assign as unknown as (this: tf.Tensor, value: tf.Tensor) => void).call(target, source);
}
