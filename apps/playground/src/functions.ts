/**
 * The 2-D test functions, each written twice: once with tfjs ops (what the optimizers
 * minimize, on the page's backend) and once in plain float64 JavaScript (the contour plot,
 * the local sharpness at the end point, and the tests' independent reference).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** A point of the plane. */
export type Point = readonly [number, number];

/** A named minimum of a test function, used to say which basin a run settled in. */
export interface Minimum {
  /** Short label shown in the results (`'flat'`, `'sharp'`, `'global'`, ...). */
  readonly label: string;
  /** Where it is (to a few digits; the basin test runs gradient descent, not a distance). */
  readonly at: Point;
}

/** One test function with the defaults the page starts from. */
export interface TestFunction {
  readonly id: string;
  readonly name: string;
  /** The formula as shown on the page. */
  readonly formula: string;
  /** f on a `[1, 2]` tensor `[[x, y]]` (a rank-2 "kernel", so ASAM's adaptWhere applies). */
  readonly tensor: (w: tf.Tensor) => tf.Scalar;
  /** f in float64. */
  readonly value: (x: number, y: number) => number;
  /** The analytic gradient in float64. */
  readonly gradient: (x: number, y: number) => Point;
  /** The plotted square: `[xMin, xMax, yMin, yMax]`. */
  readonly domain: readonly [number, number, number, number];
  readonly start: Point;
  readonly learningRate: number;
  readonly steps: number;
  /** A ρ that shows the effect on this function (the perturbation's own default is for networks). */
  readonly rho: number;
  /** Contours on a log scale of f − min (for functions whose range spans decades). */
  readonly logContours: boolean;
  readonly minima: readonly Minimum[];
}

function xy(w: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const [x, y] = tf.split(tf.reshape(w, [2]), 2);
  return [x as tf.Tensor, y as tf.Tensor];
}

// ---------------------------------------------------------------------------------------
// A wide valley with a sharp pit on its wall.
//   f(x, y) = ¼(x − 1)² + ¾y² − exp(−((x + ½)² + (y − 0.6)²) / (2 · 0.15²))
// Flat minimum (1, 0): f = 0, Hessian diag(0.5, 1.5). Sharp minimum ≈ (−0.483, 0.580):
// f ≈ −0.183 (deeper), largest Hessian eigenvalue ≈ 45.
const PIT = { x: -0.5, y: 0.6, width: 0.15 } as const;

function valleyValue(x: number, y: number): number {
  const r2 = (x - PIT.x) ** 2 + (y - PIT.y) ** 2;
  return 0.25 * (x - 1) ** 2 + 0.75 * y * y - Math.exp(-r2 / (2 * PIT.width ** 2));
}

function valleyGradient(x: number, y: number): Point {
  const s2 = PIT.width ** 2;
  const pit = Math.exp(-((x - PIT.x) ** 2 + (y - PIT.y) ** 2) / (2 * s2)) / s2;
  return [0.5 * (x - 1) + pit * (x - PIT.x), 1.5 * y + pit * (y - PIT.y)];
}

function valleyTensor(w: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [x, y] = xy(w);
    const bowl = tf.add(tf.mul(0.25, tf.square(tf.sub(x, 1))), tf.mul(0.75, tf.square(y)));
    const r2 = tf.add(tf.square(tf.sub(x, PIT.x)), tf.square(tf.sub(y, PIT.y)));
    const pit = tf.exp(tf.mul(r2, -1 / (2 * PIT.width ** 2)));
    return tf.sum(tf.sub(bowl, pit)) as tf.Scalar;
  });
}

/**
 * One sharp and one flat minimum. The sharp pit is deeper; plain SGD from the default start
 * falls into it, SAM with ρ = 1.1 goes on to the flat minimum (see the README for why).
 */
export const twoMinima: TestFunction = {
  id: 'two-minima',
  name: 'Sharp pit and flat valley',
  formula: 'f(x, y) = ¼(x − 1)² + ¾y² − exp(−((x + ½)² + (y − 0.6)²) / (2·0.15²))',
  tensor: valleyTensor,
  value: valleyValue,
  gradient: valleyGradient,
  domain: [-2, 2.5, -1.25, 2],
  start: [-0.5, 0.9],
  learningRate: 0.03,
  steps: 300,
  rho: 1.1,
  logContours: false,
  minima: [
    { label: 'flat', at: [1, 0] },
    { label: 'sharp', at: [-0.4828, 0.5797] },
  ],
};

// ---------------------------------------------------------------------------------------
// Beale's function: (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)², minimum (3, ½).
function bealeTerms(x: number, y: number): [number, number, number] {
  return [1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y ** 3];
}

/** Beale's function (Beale, 1958): a curved valley with its minimum f(3, 0.5) = 0. */
export const beale: TestFunction = {
  id: 'beale',
  name: "Beale's function",
  formula: 'f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²',
  tensor: (w) =>
    tf.tidy(() => {
      const [x, y] = xy(w);
      const y2 = tf.square(y);
      const term = (c: number, yPower: tf.Tensor) => tf.square(tf.add(tf.sub(c, x), tf.mul(x, yPower)));
      return tf.sum(tf.add(tf.add(term(1.5, y), term(2.25, y2)), term(2.625, tf.mul(y2, y)))) as tf.Scalar;
    }),
  value: (x, y) => {
    const [a, b, c] = bealeTerms(x, y);
    return a * a + b * b + c * c;
  },
  gradient: (x, y) => {
    const [a, b, c] = bealeTerms(x, y);
    return [2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1), 2 * a * x + 4 * b * x * y + 6 * c * x * y * y];
  },
  domain: [-1, 4.5, -1.5, 2.5],
  start: [1, 1.5],
  learningRate: 0.01,
  steps: 500,
  rho: 0.1,
  logContours: true,
  minima: [{ label: 'global', at: [3, 0.5] }],
};

// ---------------------------------------------------------------------------------------
// The seed's 1-D function p(x) = x⁶ + x⁵ + 5x³ − 30x² + 3x, in both coordinates.
/** p(x) = x⁶ + x⁵ + 5x³ − 30x² + 3x. */
export function seedPolynomial(x: number): number {
  return x ** 6 + x ** 5 + 5 * x ** 3 - 30 * x * x + 3 * x;
}

function seedDerivative(x: number): number {
  return 6 * x ** 5 + 5 * x ** 4 + 15 * x * x - 60 * x + 3;
}

// Horner's scheme: p(t) = t(3 + t(−30 + t(5 + t·t(1 + t)))), multiplications only.
function seedTensor(t: tf.Tensor): tf.Tensor {
  const inner = tf.add(5, tf.mul(tf.square(t), tf.add(1, t)));
  return tf.mul(t, tf.add(3, tf.mul(t, tf.add(-30, tf.mul(t, inner)))));
}

/**
 * f(x, y) = p(x) + p(y) with the seed's p: p has a deep, sharp minimum at x ≈ −2.240
 * (p'' ≈ 404) and a shallower, less sharp one at x ≈ 1.401 (p'' ≈ 153), so f has four.
 */
export const seed: TestFunction = {
  id: 'seed',
  name: 'The seed polynomial, p(x) + p(y)',
  formula: 'f(x, y) = p(x) + p(y),  p(t) = t⁶ + t⁵ + 5t³ − 30t² + 3t',
  tensor: (w) => tf.tidy(() => tf.sum(seedTensor(w)) as tf.Scalar),
  value: (x, y) => seedPolynomial(x) + seedPolynomial(y),
  gradient: (x, y) => [seedDerivative(x), seedDerivative(y)],
  domain: [-3, 2.2, -3, 2.2],
  start: [-0.3, 0.4],
  learningRate: 0.002,
  steps: 300,
  rho: 0.3,
  logContours: true,
  minima: [
    { label: 'sharp, deepest', at: [-2.2404, -2.2404] },
    { label: 'mixed', at: [-2.2404, 1.4008] },
    { label: 'mixed', at: [1.4008, -2.2404] },
    { label: 'flattest', at: [1.4008, 1.4008] },
  ],
};

/** Every test function, in menu order. */
export const FUNCTIONS: readonly TestFunction[] = [twoMinima, beale, seed];

/** Look a function up by id. */
export function functionById(id: string): TestFunction {
  const found = FUNCTIONS.find((f) => f.id === id);
  if (found === undefined) throw new Error(`unknown test function '${id}' (known: ${FUNCTIONS.map((f) => f.id).join(', ')})`);
  return found;
}
