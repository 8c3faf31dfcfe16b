/**
 * SWAD's loss-valley detector on host numbers: which updates the average covers, decided from
 * the validation losses alone (no tensors here; `swad.ts` applies the decisions on the device).
 *
 * Updates are counted from 1. Evaluation k (k = 1, 2, …) happens after update e_k with loss L_k;
 * segment k is the updates e_{k−1}+1 … e_k (e_0 = 0).
 *
 * - Converged at the first evaluation k ≥ N_c whose window L_{k−N_c+1..k} has its minimum at
 *   its oldest entry c = k−N_c+1 (ties go to the oldest, as `np.argmin`): the loss has not
 *   decreased over N_c evaluations. Threshold T = L_c + r·|L_c| ((1 + r)·L_c for a loss ≥ 0).
 * - The window starts retroactively: with D = max(0, N_t − N_c), at the smallest s in
 *   [max(1, c−D), c] such that L_s … L_c are all ≤ T; its first update is e_s + 1.
 * - It ends at the first later evaluation k with k − N_t + 1 ≥ c whose last N_t losses all exceed
 *   T: its last update is e_{k−N_t}. Until then a segment is confirmed N_t − 1 evaluations after
 *   its own.
 *
 * @module
 */

/** The three settings the detector reads. */
export interface ValleySettings {
  readonly nConverge: number;
  readonly nTolerance: number;
  readonly toleranceRatio: number;
}

/** One evaluation: its index k, the update count e_k it followed, its loss L_k. */
export interface Evaluation {
  readonly index: number;
  readonly at: number;
  readonly loss: number;
}

/** A closed segment whose sum of weights is still kept on the device. */
export interface Segment {
  readonly index: number;
  /** First update of the segment (e_{k−1} + 1). */
  readonly from: number;
  /** Last update (e_k); `to − from + 1` updates (0 when two evaluations had no update between). */
  readonly to: number;
}

/** 0: looking for convergence, 1: the window is open, 2: it has ended. */
export type Phase = 0 | 1 | 2;

/** The detector's whole state: plain numbers (saved with the optimizer). */
export interface Valley {
  readonly updates: number;
  readonly evaluations: number;
  readonly phase: Phase;
  /** T (0 until converged). */
  readonly threshold: number;
  /** c, the converging evaluation (0 until converged). */
  readonly converge: number;
  /** First update of the window (0 until converged). */
  readonly start: number;
  /** Last update of the window (0 while open). */
  readonly end: number;
  /** First segment of the window, s + 1 (0 until converged). */
  readonly first: number;
  /** Updates already folded into the confirmed sum. */
  readonly confirmedUpdates: number;
  /** The last evaluations (enough for every rule above). */
  readonly history: readonly Evaluation[];
  /** Segments kept on the device, oldest first. */
  readonly segments: readonly Segment[];
}

/** What the device side does for one evaluation, in order. */
export type Action =
  | { readonly type: 'close'; readonly index: number }
  | { readonly type: 'confirm'; readonly index: number }
  | { readonly type: 'drop'; readonly index: number };

/** The state before any update. */
export const EMPTY_VALLEY: Valley = {
  updates: 0,
  evaluations: 0,
  phase: 0,
  threshold: 0,
  converge: 0,
  start: 0,
  end: 0,
  first: 0,
  confirmedUpdates: 0,
  history: [],
  segments: [],
};

/** How many past evaluations and segments the rules need. */
export function depth(settings: ValleySettings): number {
  return Math.max(settings.nConverge, settings.nTolerance) + 1;
}

/** One update: counted (and, unless the window has ended, summed into the open segment by the caller). */
export function afterUpdate(valley: Valley): Valley {
  return { ...valley, updates: valley.updates + 1 };
}

/** The threshold T for a converged loss L_c. */
export function thresholdOf(loss: number, ratio: number): number {
  return loss + ratio * Math.abs(loss);
}

/** One evaluation with loss `loss` after the updates so far: the new state and the device actions. */
export function observe(valley: Valley, loss: number, settings: ValleySettings): { valley: Valley; actions: Action[] } {
  if (valley.phase === 2) return { valley: { ...valley, evaluations: valley.evaluations + 1 }, actions: [] };
  const k = valley.evaluations + 1;
  const previousAt = valley.history.length > 0 ? valley.history[valley.history.length - 1]!.at : 0;
  const history = [...valley.history, { index: k, at: valley.updates, loss }].slice(-depth(settings));
  const segments = [...valley.segments, { index: k, from: previousAt + 1, to: valley.updates }];
  const actions: Action[] = [{ type: 'close', index: k }];
  let next: Valley = { ...valley, evaluations: k, history, segments };
  const lossAt = (j: number): Evaluation | undefined => history.find((e) => e.index === j);

  if (next.phase === 0) {
    const { nConverge, nTolerance, toleranceRatio } = settings;
    if (k >= nConverge) {
      const window = history.slice(-nConverge);
      const oldest = window[0]!;
      if (window.every((e) => oldest.loss <= e.loss)) {
        const c = oldest.index;
        const threshold = thresholdOf(oldest.loss, toleranceRatio);
        const lookBack = Math.max(0, nTolerance - nConverge);
        let s = c;
        for (let j = c - 1; j >= Math.max(1, c - lookBack); j -= 1) {
          if (lossAt(j)!.loss > threshold) break;
          s = j;
        }
        next = { ...next, phase: 1, threshold, converge: c, start: lossAt(s)!.at + 1, first: s + 1 };
        return settle(next, actions, k, settings, false);
      }
    }
    return settle(next, actions, k, settings, false);
  }
  return settle(next, actions, k, settings, true);
}

/** Confirm, end or drop after evaluation k (`check`: the end test may run at this evaluation). */
function settle(valley: Valley, actions: Action[], k: number, settings: ValleySettings, check: boolean): { valley: Valley; actions: Action[] } {
  const { nTolerance } = settings;
  let next = valley;
  if (next.phase === 1) {
    const oldest = k - nTolerance + 1;
    const recent = next.history.filter((e) => e.index >= oldest);
    if (check && oldest >= next.converge && recent.every((e) => e.loss > next.threshold)) {
      // e_{k−N_t}: the evaluation before the N_t that stayed above T (e_0 = 0).
      const end = next.history.find((e) => e.index === oldest - 1)?.at ?? 0;
      next = { ...next, phase: 2, end };
    } else {
      let confirmedUpdates = next.confirmedUpdates;
      for (const segment of next.segments) {
        if (segment.index >= next.first && segment.index <= oldest) {
          actions.push({ type: 'confirm', index: segment.index });
          confirmedUpdates += segment.to - segment.from + 1;
        }
      }
      const confirmed = new Set(actions.filter((a) => a.type === 'confirm').map((a) => a.index));
      next = { ...next, confirmedUpdates, segments: next.segments.filter((s) => !confirmed.has(s.index)) };
    }
  }
  // Keep what a later rule or apply() needs: pending window segments, the fallback segment.
  const fallback = fallbackIndex(next);
  const keep = (s: Segment): boolean => {
    if (s.index === fallback) return true;
    if (next.phase === 0) return s.index > k - depth(settings);
    if (next.phase === 1) return s.index >= next.first;
    return false;
  };
  const dropped = next.segments.filter((s) => !keep(s));
  for (const s of dropped) actions.push({ type: 'drop', index: s.index });
  next = { ...next, segments: next.segments.filter(keep) };
  return { valley: next, actions };
}

/**
 * The segment apply() falls back to when the window has no update yet (as the official code):
 * before convergence the last closed segment, after it the converging one — unless the window
 * already has confirmed updates.
 */
export function fallbackIndex(valley: Valley): number {
  if (valley.phase === 0) return valley.evaluations;
  return valley.confirmedUpdates > 0 ? 0 : valley.converge;
}

/**
 * The segments apply() averages besides the confirmed sum, while the window is open: the
 * pending ones up to the last evaluation whose loss is ≤ T (the official end-of-training flush).
 */
export function flushed(valley: Valley): Segment[] {
  if (valley.phase !== 1) return [];
  let last = 0;
  for (const e of valley.history) if (e.loss <= valley.threshold) last = Math.max(last, e.index);
  return valley.segments.filter((s) => s.index >= valley.first && s.index <= last);
}

/** The window in update counts: `start` null until converged, `end` null while open. */
export function windowOf(valley: Valley): { start: number | null; end: number | null } {
  return { start: valley.phase === 0 ? null : valley.start, end: valley.phase === 2 ? valley.end : null };
}
