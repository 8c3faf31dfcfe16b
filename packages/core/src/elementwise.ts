/**
 * Element-wise arithmetic for the step's hot paths: the same values as `tf.add`, `tf.sub`,
 * `tf.mul` and `tf.div` (bit for bit), faster on the cpu backend.
 *
 * tfjs' cpu backend runs every binary op through one shared loop that calls the op as a callback;
 * once a program has used several ops, that call site is megamorphic and a 784×256 float32 product
 * costs 2.5–4.5 ms instead of about 0.3. The kernels here have a loop of their own per op (and per
 * operand layout: same size, a scalar on either side, or an [out] vector against a [..., out]
 * tensor), so they stay monomorphic. Other layouts, other dtypes and other backends call tfjs' own
 * op. Every kernel has a gradient, so the helpers may be used under a tape.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostTensor, hostValues, registerCpuKernel } from './cpu-kernel.js';

/** The four binary ops. */
type Op = 'add' | 'sub' | 'mul' | 'div';

/** How the operands line up: the same size, a scalar as `a` or as `b`, or `b` a vector along the last axis of `a`. */
type Layout = 0 | 1 | 2 | 3;
const SAME: Layout = 0;
const A_SCALAR: Layout = 1;
const B_SCALAR: Layout = 2;
const B_ROW: Layout = 3;

const KERNEL_NAMES: Record<Op, string> = { add: 'FlatminAdd', sub: 'FlatminSub', mul: 'FlatminMul', div: 'FlatminDiv' };
const AXPY_KERNEL = 'FlatminAxpy';

/** An operand: a tensor or a plain number (a float32 scalar, as tfjs makes of it). */
export type Operand = tf.Tensor | number;

// One loop per op and layout, each written out: a shared loop taking the op as a callback is
// exactly what makes tfjs' own kernels slow here.
function addLoop(out: Float32Array, x: Float32Array, y: Float32Array, layout: Layout): void {
  const n = out.length;
  if (layout === SAME) for (let i = 0; i < n; i++) out[i] = x[i]! + y[i]!;
  else if (layout === A_SCALAR) {
    const s = x[0]!;
    for (let i = 0; i < n; i++) out[i] = s + y[i]!;
  } else if (layout === B_SCALAR) {
    const s = y[0]!;
    for (let i = 0; i < n; i++) out[i] = x[i]! + s;
  } else {
    const m = y.length;
    for (let i = 0; i < n; i += m) for (let j = 0; j < m; j++) out[i + j] = x[i + j]! + y[j]!;
  }
}

function subLoop(out: Float32Array, x: Float32Array, y: Float32Array, layout: Layout): void {
  const n = out.length;
  if (layout === SAME) for (let i = 0; i < n; i++) out[i] = x[i]! - y[i]!;
  else if (layout === A_SCALAR) {
    const s = x[0]!;
    for (let i = 0; i < n; i++) out[i] = s - y[i]!;
  } else if (layout === B_SCALAR) {
    const s = y[0]!;
    for (let i = 0; i < n; i++) out[i] = x[i]! - s;
  } else {
    const m = y.length;
    for (let i = 0; i < n; i += m) for (let j = 0; j < m; j++) out[i + j] = x[i + j]! - y[j]!;
  }
}

function mulLoop(out: Float32Array, x: Float32Array, y: Float32Array, layout: Layout): void {
  const n = out.length;
  if (layout === SAME) for (let i = 0; i < n; i++) out[i] = x[i]! * y[i]!;
  else if (layout === A_SCALAR) {
    const s = x[0]!;
    for (let i = 0; i < n; i++) out[i] = s * y[i]!;
  } else if (layout === B_SCALAR) {
    const s = y[0]!;
    for (let i = 0; i < n; i++) out[i] = x[i]! * s;
  } else {
    const m = y.length;
    for (let i = 0; i < n; i += m) for (let j = 0; j < m; j++) out[i + j] = x[i + j]! * y[j]!;
  }
}

function divLoop(out: Float32Array, x: Float32Array, y: Float32Array, layout: Layout): void {
  const n = out.length;
  if (layout === SAME) for (let i = 0; i < n; i++) out[i] = x[i]! / y[i]!;
  else if (layout === A_SCALAR) {
    const s = x[0]!;
    for (let i = 0; i < n; i++) out[i] = s / y[i]!;
  } else if (layout === B_SCALAR) {
    const s = y[0]!;
    for (let i = 0; i < n; i++) out[i] = x[i]! / s;
  } else {
    const m = y.length;
    for (let i = 0; i < n; i += m) for (let j = 0; j < m; j++) out[i + j] = x[i + j]! / y[j]!;
  }
}

const LOOPS: Record<Op, typeof addLoop> = { add: addLoop, sub: subLoop, mul: mulLoop, div: divLoop };
const TF_OPS: Record<Op, (a: Operand, b: Operand) => tf.Tensor> = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div };

/** The layout of `a` against `b` when the cpu kernels can take it, else null (tfjs' op then). */
function layoutOf(a: tf.Tensor, b: tf.Tensor): Layout | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (a.size === b.size) return a.size > 0 && sameShape(a.shape, b.shape) ? SAME : null;
  if (b.size === 1 && b.rank <= a.rank) return B_SCALAR;
  if (a.size === 1 && a.rank <= b.rank) return A_SCALAR;
  if (b.rank === 1 && a.rank >= 1 && a.shape[a.rank - 1] === b.size && b.size > 0) return B_ROW;
  return null;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Sum `dy` down to `shape` over the axes it was broadcast along (tfjs' rule). */
function reduceTo(dy: tf.Tensor, shape: number[]): tf.Tensor {
  if (sameShape(dy.shape, shape)) return dy;
  const axes = tf.backend_util.getReductionAxes(shape, dy.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

let registered = false;

/** Register the cpu kernels and their gradients once; whether they can be used now. */
function cpuKernels(): boolean {
  if (tf.getBackend() !== 'cpu') return false;
  if (registered) return true;
  for (const op of Object.keys(KERNEL_NAMES) as Op[]) {
    const loop = LOOPS[op];
    registerCpuKernel(
      KERNEL_NAMES[op],
      ({ inputs, backend, attrs }) => {
        const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
        const layout = (attrs as { layout: Layout }).layout;
        const x = hostValues(backend, a);
        const y = hostValues(backend, b);
        const out = new Float32Array(layout === A_SCALAR ? y.length : x.length);
        loop(out, x, y, layout);
        return hostTensor(backend, layout === A_SCALAR ? b.shape : a.shape, out);
      },
      {
        inputsToSave: ['a', 'b'],
        gradFunc: (dy, saved) => {
          const [a, b] = saved as [tf.Tensor, tf.Tensor];
          const g = dy as tf.Tensor;
          if (op === 'add') return { a: () => reduceTo(g, a.shape), b: () => reduceTo(g, b.shape) };
          if (op === 'sub') return { a: () => reduceTo(g, a.shape), b: () => reduceTo(tf.neg(g), b.shape) };
          if (op === 'mul') return { a: () => reduceTo(tf.mul(g, b), a.shape), b: () => reduceTo(tf.mul(g, a), b.shape) };
          return {
            a: () => reduceTo(tf.div(g, b), a.shape),
            b: () => reduceTo(tf.neg(tf.div(tf.mul(g, a), tf.square(b))), b.shape),
          };
        },
      },
    );
  }
  registerCpuKernel(
    AXPY_KERNEL,
    ({ inputs, backend }) => {
      const { x, s, y } = inputs as { x: tf.TensorInfo; s: tf.TensorInfo; y: tf.TensorInfo };
      const xv = hostValues(backend, x);
      const yv = hostValues(backend, y);
      const scale = hostValues(backend, s)[0]!;
      const out = new Float32Array(xv.length);
      // s·y rounded to float32 first, then the sum: what tf.add(x, tf.mul(s, y)) computes.
      for (let i = 0; i < out.length; i++) out[i] = xv[i]! + Math.fround(scale * yv[i]!);
      return hostTensor(backend, x.shape, out);
    },
    {
      inputsToSave: ['s', 'y'],
      gradFunc: (dy, saved) => {
        const [s, y] = saved as [tf.Tensor, tf.Tensor];
        const g = dy as tf.Tensor;
        return { x: () => g, s: () => tf.reshape(tf.sum(tf.mul(g, y)), s.shape), y: () => tf.mul(g, s) };
      },
    },
  );
  registered = true;
  return true;
}

function asTensor(v: Operand): tf.Tensor {
  return typeof v === 'number' ? tf.scalar(v) : v;
}

function binary(op: Op, a: Operand, b: Operand): tf.Tensor {
  if ((typeof a !== 'number' || typeof b !== 'number') && tf.getBackend() === 'cpu') {
    const ta = asTensor(a);
    const tb = asTensor(b);
    try {
      const layout = layoutOf(ta, tb);
      if (layout !== null && cpuKernels()) return tf.engine().runKernel(KERNEL_NAMES[op], { a: ta, b: tb }, { layout }) as tf.Tensor;
    } finally {
      if (ta !== a) ta.dispose();
      if (tb !== b) tb.dispose();
    }
  }
  return TF_OPS[op](a, b);
}

/**
 * a + b, element-wise with tfjs' broadcasting: `tf.add`'s values, a loop of its own on cpu.
 *
 * @example
 * ```ts
 * const moved = elementwise.add(weight, epsilon); // w + ε
 * ```
 */
function add(a: Operand, b: Operand): tf.Tensor {
  return binary('add', a, b);
}

/**
 * a − b, element-wise with tfjs' broadcasting: `tf.sub`'s values, a loop of its own on cpu.
 *
 * @example
 * ```ts
 * const back = elementwise.sub(weight, epsilon);
 * ```
 */
function sub(a: Operand, b: Operand): tf.Tensor {
  return binary('sub', a, b);
}

/**
 * a · b, element-wise with tfjs' broadcasting: `tf.mul`'s values, a loop of its own on cpu.
 *
 * @example
 * ```ts
 * const epsilon = elementwise.mul(g, scale); // scale a device scalar
 * ```
 */
function mul(a: Operand, b: Operand): tf.Tensor {
  return binary('mul', a, b);
}

/**
 * a / b, element-wise with tfjs' broadcasting: `tf.div`'s values, a loop of its own on cpu.
 *
 * @example
 * ```ts
 * const natural = elementwise.div(g, fisherDiagonal);
 * ```
 */
function div(a: Operand, b: Operand): tf.Tensor {
  return binary('div', a, b);
}

/**
 * x + s·y for two float tensors of one shape and a scalar s: exactly `tf.add(x, tf.mul(s, y))`
 * (s·y rounded to float32, then the sum), one loop and one output buffer on cpu.
 *
 * @example
 * ```ts
 * const adjusted = elementwise.axpy(g, tf.scalar(0.7), gv); // g + 0.7·g_v
 * ```
 */
function axpy(x: tf.Tensor, s: Operand, y: tf.Tensor): tf.Tensor {
  const st = asTensor(s);
  let result: tf.Tensor;
  if (x.dtype === 'float32' && y.dtype === 'float32' && st.dtype === 'float32' && st.size === 1 && x.size > 0 && sameShape(x.shape, y.shape) && cpuKernels()) {
    result = tf.engine().runKernel(AXPY_KERNEL, { x, s: st, y }) as tf.Tensor;
  } else {
    result = tf.tidy(() => tf.add(x, tf.mul(st, y)));
  }
  if (st !== s) st.dispose();
  return result;
}

/** The element-wise helpers of {@link elementwise}. */
export interface Elementwise {
  /** a + b with tfjs' broadcasting: `tf.add`'s values. */
  readonly add: (a: Operand, b: Operand) => tf.Tensor;
  /** a − b with tfjs' broadcasting: `tf.sub`'s values. */
  readonly sub: (a: Operand, b: Operand) => tf.Tensor;
  /** a · b with tfjs' broadcasting: `tf.mul`'s values. */
  readonly mul: (a: Operand, b: Operand) => tf.Tensor;
  /** a / b with tfjs' broadcasting: `tf.div`'s values. */
  readonly div: (a: Operand, b: Operand) => tf.Tensor;
  /** x + s·y for a scalar s: `tf.add(x, tf.mul(s, y))`'s values, one loop on cpu. */
  readonly axpy: (x: tf.Tensor, s: Operand, y: tf.Tensor) => tf.Tensor;
}

/**
 * Element-wise arithmetic with tfjs' values and broadcasting that runs several times faster on
 * the cpu backend (monomorphic loops instead of tfjs' shared callback loop): `add`, `sub`, `mul`,
 * `div` and the fused `axpy` (x + s·y). Other backends call tfjs' ops. Use it in a component's
 * per-step arithmetic over parameter-sized tensors.
 *
 * @example
 * ```ts
 * import { elementwise } from '@flatmin/core/kit';
 * const epsilon = elementwise.mul(g, tf.scalar(0.05)); // the same values as tf.mul(g, 0.05)
 * ```
 */
export const elementwise: Elementwise = Object.freeze({ add, sub, mul, div, axpy });
