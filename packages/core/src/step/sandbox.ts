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
 *   and are disposed, so the caller's arrays hold the visible call's entries only;
 * - tensors it keeps without pushing (a stateful RNN's carried state, a "last value" field) are
 *   made to hold the data of the visible call's keep at the same position, when that call came
 *   first and the shapes match, so whatever field refers to them sees the visible call's values;
 *   otherwise they are left to the closure, as tfjs would.
 *
 * The hooks (engine `keep`, `Variable.prototype.assign`, `Array.prototype.push` from the first
 * keep on) are installed only while the closure body runs, and removed in a `finally`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** What a visible call kept without pushing, in order: the counterparts of a sandboxed call's keeps. */
export type VisibleKeeps = tf.Tensor[];

/** What one sandboxed call did, to be undone once its gradient has been taken. */
export interface SideEffects {
  /** Variables the closure assigned, with a handle on their value before the first write. */
  readonly writes: Map<tf.Variable, tf.Tensor>;
  /** Every `tf.keep` call of the closure, in order, and whether the tensor was not kept before. */
  readonly kept: Array<{ readonly tensor: tf.Tensor; readonly fresh: boolean }>;
  /** Of those (or older ones), the tensors whose push into an array was dropped. */
  readonly dropped: Set<tf.Tensor>;
}

type Engine = ReturnType<typeof tf.engine> & { keep: <T extends tf.Tensor>(t: T) => T };
type Assign = (this: tf.Variable, value: tf.Tensor) => void;

/**
 * How a call is recorded: `'visible'` records its keeps (the counterparts of later calls);
 * `'sandbox'` records everything to undo; `'writes'` only the variable writes (for
 * `keptInAdversarialPass: 'keep'`).
 */
export type CallMode = 'visible' | 'sandbox' | 'writes';

/** Install the recording hooks around one run of `body`; what it did is collected in `effects`. */
export function recordSideEffects<T>(body: () => T, effects: SideEffects, mode: CallMode): T {
  if (mode === 'writes') return recordWrites(body, effects);
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
    if (mode === 'visible') return result;
    keptHere.add(tensor);
    if (!pushFilterOn) {
      pushFilterOn = true;
      arrayPrototype.push = function (this: unknown[], ...items: unknown[]): number {
        if (items.length === 1 && keptHere.has(items[0] as tf.Tensor)) {
          effects.dropped.add(items[0] as tf.Tensor);
          return this.length;
        }
        return originalPush.apply(this, items);
      };
    }
    return result;
  };
  if (mode === 'sandbox') {
    prototype.assign = function (this: tf.Variable, value: tf.Tensor): void {
      if (!effects.writes.has(this)) effects.writes.set(this, originalKeep.call(engine, tf.clone(this)));
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
    if (!effects.writes.has(this)) effects.writes.set(this, engine.keep(tf.clone(this)));
    originalAssign.call(this, value);
  };
  try {
    return body();
  } finally {
    prototype.assign = originalAssign;
  }
}

/** An empty record. */
export function noSideEffects(): SideEffects {
  return { writes: new Map(), kept: [], dropped: new Set() };
}

/**
 * Undo a sandboxed call: restore the variables it wrote, dispose the kept tensors whose push was
 * dropped, and point the other fresh keeps at the visible call's data (see the module comment).
 */
export function undoSideEffects(effects: SideEffects, visible: VisibleKeeps | null): void {
  for (const [variable, before] of effects.writes) {
    if (!variable.isDisposed && variable.dataId !== before.dataId) variable.assign(before);
    before.dispose();
  }
  effects.writes.clear();
  // The same closure keeps the same sequence of tensors on every call: the i-th keep here
  // stands for the i-th keep of the visible call.
  effects.kept.forEach(({ tensor, fresh }, position) => {
    if (!fresh || tensor.isDisposed) return;
    if (effects.dropped.has(tensor)) {
      tensor.dispose();
      return;
    }
    const counterpart = visible?.[position];
    if (counterpart !== undefined && !counterpart.isDisposed && sameSignature(counterpart, tensor)) aliasData(tensor, counterpart);
  });
  effects.kept.length = 0;
  effects.dropped.clear();
}

/** The visible call's keeps, in order: the counterparts of a sandboxed call's keeps. */
export function visibleKeeps(effects: SideEffects): VisibleKeeps {
  return effects.kept.map(({ tensor }) => tensor);
}

function sameSignature(a: tf.Tensor, b: tf.Tensor): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

/**
 * Make `target` hold `source`'s data (reference counted, no copy), as `Variable.assign` does for
 * a variable: the old data of `target` is released.
 */
function aliasData(target: tf.Tensor, source: tf.Tensor): void {
  if (target.dataId === source.dataId) return;
  (tf.Variable.prototype.assign as unknown as (this: tf.Tensor, value: tf.Tensor) => void).call(target, source);
}
