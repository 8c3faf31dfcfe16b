/**
 * The LoRA dense layer: y = act(x·W + b) with W = W₀ + (α/r)·AᵀBᵀ, W₀ frozen.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FlatminConfigError } from '@flatmin/core';
import { checkChoice, checkNumber, checkOptions } from '@flatmin/core/kit';
import { registerRole } from './roles.js';

/**
 * The activations a {@link LoraDense} takes: tfjs-layers' activation identifiers.
 *
 * @example
 * ```ts
 * const layer = loraDense({ units: 8, rank: 2, inputShape: [4], activation: ACTIVATIONS[3] }); // 'relu'
 * ```
 */
export const ACTIVATIONS = ['linear', 'elu', 'hardSigmoid', 'relu', 'relu6', 'selu', 'sigmoid', 'softmax', 'softplus', 'softsign', 'tanh', 'swish', 'mish', 'gelu', 'gelu_new'] as const;

/** An activation of {@link ACTIVATIONS}. */
export type LoraActivation = (typeof ACTIVATIONS)[number];

/**
 * Options of {@link loraDense} (and the serialized config of a {@link LoraDense}).
 *
 * @example
 * ```ts
 * const options: LoraDenseOptions = { units: 10, rank: 4, alpha: 8, activation: 'relu', inputShape: [784] };
 * ```
 */
export interface LoraDenseOptions {
  /** Output units, a whole number ≥ 1 (required). */
  units: number;
  /** r, the adapter rank, a whole number ≥ 1 (default 8). */
  rank?: number;
  /** α, a finite number > 0 (default: `rank`, so the scale α/r is 1). The adapter is scaled by α/r. */
  alpha?: number;
  /** The activation, a tfjs-layers identifier (default `'linear'`), as for `tf.layers.dense`. */
  activation?: LoraActivation;
  /** Whether the layer has a bias (default true). */
  useBias?: boolean;
  /** Whether the bias is trained (default false: LoRA trains only A and B, loralib's `bias='none'`). */
  trainableBias?: boolean;
  /** Seed of the initializers of A (Gaussian) and W₀ (Glorot normal), any integer (default: unseeded, tfjs' own). */
  seed?: number;
  /** Standard deviation of A's Gaussian initialization, a finite number > 0 (default 1/√in). */
  initStddev?: number;
  /** The layer name (as for any tfjs-layers layer). */
  name?: string;
  /** The input shape without the batch axis, when this is the first layer. */
  inputShape?: tfl.Shape;
  /** The input shape with the batch axis (tfjs-layers' `batchInputShape`). */
  batchInputShape?: tfl.Shape;
  /** The batch size, with `inputShape`. */
  batchSize?: number;
  /** The input size, when this is the first layer (tfjs-layers' `inputDim`). */
  inputDim?: number;
  /** Whether the adapters (A, B) are trainable (default true; W₀ never is). */
  trainable?: boolean;
  /** The layer dtype (`'float32'`). */
  dtype?: tf.DataType;
}

const WHERE = 'loraDense';
const KEYS = ['units', 'rank', 'alpha', 'activation', 'useBias', 'trainableBias', 'seed', 'initStddev', 'name', 'inputShape', 'batchInputShape', 'batchSize', 'inputDim', 'trainable', 'dtype'] as const;

const LAYER_KEYS = ['name', 'inputShape', 'batchInputShape', 'batchSize', 'trainable', 'dtype'] as const;

interface Checked {
  units: number;
  rank: number;
  alpha: number;
  activation: LoraActivation;
  useBias: boolean;
  trainableBias: boolean;
  seed: number | undefined;
  initStddev: number | undefined;
}

function checkBoolean(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new FlatminConfigError(key, value, 'true or false', WHERE);
  return value;
}

/** Check the LoRA keys of {@link LoraDenseOptions}; the tfjs-layers keys are left to tfjs. */
export function checkLoraDenseOptions(options: LoraDenseOptions | undefined): Checked {
  const o = checkOptions(options, KEYS, WHERE) as Partial<LoraDenseOptions>;
  const units = checkNumber('units', o.units, { min: 1, integer: true }, WHERE);
  const rank = checkNumber('rank', o.rank === undefined ? 8 : o.rank, { min: 1, integer: true }, WHERE);
  const alpha = checkNumber('alpha', o.alpha === undefined ? rank : o.alpha, { min: 0, minExclusive: true }, WHERE);
  const activation = checkChoice('activation', o.activation === undefined ? 'linear' : o.activation, ACTIVATIONS, WHERE);
  const useBias = checkBoolean('useBias', o.useBias, true);
  const trainableBias = checkBoolean('trainableBias', o.trainableBias, false);
  const seed = o.seed === undefined ? undefined : checkNumber('seed', o.seed, { integer: true }, WHERE);
  const initStddev = o.initStddev === undefined ? undefined : checkNumber('initStddev', o.initStddev, { min: 0, minExclusive: true }, WHERE);
  return { units, rank, alpha, activation, useBias, trainableBias, seed, initStddev };
}

/**
 * A dense layer with a low-rank adapter (LoRA, Hu et al., "LoRA: Low-Rank Adaptation of Large
 * Language Models", ICLR 2022): y = act(x·W + b), W = W₀ + (α/r)·AᵀBᵀ.
 *
 * tfjs layout: W₀ is the `[in, out]` kernel a `tf.layers.dense` has. The paper writes the
 * PyTorch-layout update ΔW = BA with B ∈ ℝ^{out×r}, A ∈ ℝ^{r×in}; here A (`lora_A`) has shape
 * `[r, in]` and B (`lora_B`) shape `[out, r]` exactly as in the paper (and in loralib/PEFT), and the
 * `[in, out]` update is its transpose (BA)ᵀ = AᵀBᵀ. The forward pass computes
 * x·W₀ + (α/r)·(x·Aᵀ)·Bᵀ (never the full product), then the bias and the activation.
 *
 * Weights (names as in `layer.weights`): `kernel` (W₀, non-trainable: never updated by any
 * optimizer), `lora_A` (Gaussian, seeded), `lora_B` (zeros, so the layer starts as x·W₀ + b),
 * `bias` (frozen unless `trainableBias`). `getWeights()` lists the trainable weights first, as
 * every tfjs layer does: `[lora_A, lora_B, kernel, bias]` (or `[lora_A, lora_B, bias, kernel]`
 * with a trainable bias).
 *
 * Registered with `tf.serialization.registerClass`, so `model.save` / `tf.loadLayersModel` and
 * `getConfig` / `fromConfig` round-trip it.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { loraDense } from '@flatmin/lora';
 *
 * const model = tf.sequential({ layers: [loraDense({ units: 10, rank: 4, alpha: 8, inputShape: [784] })] });
 * ```
 */
export class LoraDense extends tfl.layers.Layer {
  /** The class name tfjs-layers serializes (`'LoraDense'`). */
  static readonly className = 'LoraDense';
  /** Output units. */
  readonly units: number;
  /** r, the adapter rank. */
  readonly rank: number;
  /** α; the adapter is scaled by α/r. */
  readonly alpha: number;
  /** The activation identifier. */
  readonly activation: LoraActivation;
  /** Whether the layer has a bias. */
  readonly useBias: boolean;
  /** Whether the bias is trained. */
  readonly trainableBias: boolean;
  /** The initializers' seed, if any. */
  readonly seed: number | undefined;
  /** A's initialization standard deviation, if given (else 1/√in). */
  readonly initStddev: number | undefined;
  private kernelWeight: tfl.LayerVariable | null = null;
  private aWeight: tfl.LayerVariable | null = null;
  private bWeight: tfl.LayerVariable | null = null;
  private biasWeight: tfl.LayerVariable | null = null;
  private readonly activationLayer: tfl.layers.Layer;

  constructor(options: LoraDenseOptions) {
    const checked = checkLoraDenseOptions(options);
    super(layerArgs(options));
    this.units = checked.units;
    this.rank = checked.rank;
    this.alpha = checked.alpha;
    this.activation = checked.activation;
    this.useBias = checked.useBias;
    this.trainableBias = checked.trainableBias;
    this.seed = checked.seed;
    this.initStddev = checked.initStddev;
    this.activationLayer = tfl.layers.activation({ activation: checked.activation });
    this.supportsMasking = true;
  }

  /** α/r, the adapter's scale. */
  get scale(): number {
    return this.alpha / this.rank;
  }

  /** W₀, the frozen `[in, out]` kernel (after the layer is built). */
  get kernel(): tf.Variable {
    return built(this.kernelWeight, this.name).read() as tf.Variable;
  }

  /** A, `[r, in]` (after the layer is built). */
  get loraA(): tf.Variable {
    return built(this.aWeight, this.name).read() as tf.Variable;
  }

  /** B, `[out, r]` (after the layer is built). */
  get loraB(): tf.Variable {
    return built(this.bWeight, this.name).read() as tf.Variable;
  }

  /** The bias `[out]`, or null without one (after the layer is built). */
  get bias(): tf.Variable | null {
    return this.biasWeight === null ? null : (this.biasWeight.read() as tf.Variable);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const inputSize = shape[shape.length - 1];
    if (typeof inputSize !== 'number') throw new FlatminConfigError('inputShape', shape, 'a known last (input) dimension', WHERE);
    if (this.kernelWeight === null) {
      const seeded = this.seed === undefined ? {} : { seed: this.seed };
      const stddev = this.initStddev ?? 1 / Math.sqrt(inputSize);
      this.kernelWeight = this.addWeight('kernel', [inputSize, this.units], 'float32', tfl.initializers.glorotNormal(seeded), undefined, false);
      this.aWeight = this.addWeight('lora_A', [this.rank, inputSize], 'float32', tfl.initializers.randomNormal({ mean: 0, stddev, ...seeded }), undefined, true);
      this.bWeight = this.addWeight('lora_B', [this.units, this.rank], 'float32', tfl.initializers.zeros(), undefined, true);
      if (this.useBias) this.biasWeight = this.addWeight('bias', [this.units], 'float32', tfl.initializers.zeros(), undefined, this.trainableBias);
      registerRole(this.kernel, this, 'kernel');
      registerRole(this.loraA, this, 'lora_A');
      registerRole(this.loraB, this, 'lora_B');
      if (this.bias !== null) registerRole(this.bias, this, 'bias');
    }
    this.inputSpec = [{ minNDim: 2, axes: { [-1]: inputSize } }];
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const input = Array.isArray(inputs) ? inputs[0]! : inputs;
      const inputSize = input.shape[input.rank - 1]!;
      const x = input.rank === 2 ? (input as tf.Tensor2D) : tf.reshape(input, [-1, inputSize]);
      const base = tf.matMul(x, this.kernel);
      const down = tf.matMul(x, this.loraA, false, true);
      const up = tf.matMul(tf.mul(down, this.scale), this.loraB, false, true);
      let output: tf.Tensor = tf.add(base, up);
      if (this.bias !== null) output = tf.add(output, this.bias);
      if (input.rank !== 2) output = tf.reshape(output, [...input.shape.slice(0, -1), this.units]);
      return this.activation === 'linear' ? output : (this.activationLayer.apply(output) as tf.Tensor);
    });
  }

  /** Rebuild a layer from {@link LoraDense.getConfig} (tfjs' deserializer also passes `customObjects`, ignored). */
  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const known: tf.serialization.ConfigDict = {};
    for (const key of KEYS) if (config[key] !== undefined) known[key] = config[key]!;
    return new cls(known);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      units: this.units,
      rank: this.rank,
      alpha: this.alpha,
      activation: this.activation,
      useBias: this.useBias,
      trainableBias: this.trainableBias,
    };
    if (this.seed !== undefined) config['seed'] = this.seed;
    if (this.initStddev !== undefined) config['initStddev'] = this.initStddev;
    return { ...config, ...super.getConfig() };
  }
}

tf.serialization.registerClass(LoraDense);

/** The tfjs-layers keys of the options (tfjs' Dense turns `inputDim` into a batch input shape the same way). */
function layerArgs(options: LoraDenseOptions): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const key of LAYER_KEYS) if (options[key] !== undefined) args[key] = options[key];
  if (options.inputDim !== undefined && options.inputShape === undefined && options.batchInputShape === undefined) args['batchInputShape'] = [options.batchSize ?? null, options.inputDim];
  return args;
}

function built(weight: tfl.LayerVariable | null, name: string): tfl.LayerVariable {
  if (weight === null) throw new Error(`LoraDense '${name}' is not built yet: call it on an input (or add it to a model) first.`);
  return weight;
}

/**
 * Make a {@link LoraDense} layer: y = act(x·(W₀ + (α/r)·AᵀBᵀ) + b) with W₀ frozen, A Gaussian
 * (seeded), B zeros (LoRA, Hu et al., ICLR 2022). A `[r, in]` and B `[out, r]` are the paper's A and
 * B; in tfjs' `[in, out]` layout the update BA appears transposed, AᵀBᵀ.
 *
 * @param options see {@link LoraDenseOptions}; `units` is required. A bad value throws a
 *   `FlatminConfigError` naming the key (`rank` < 1, `alpha` ≤ 0, ...).
 * @returns the layer, to add to a `tf.sequential` or call on a symbolic input.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { loraDense } from '@flatmin/lora';
 *
 * const model = tf.sequential({
 *   layers: [loraDense({ units: 32, rank: 4, alpha: 8, activation: 'relu', inputShape: [16], seed: 1 }), loraDense({ units: 3, rank: 4, seed: 2 })],
 * });
 * ```
 */
export function loraDense(options: LoraDenseOptions): LoraDense {
  return new LoraDense(options);
}
