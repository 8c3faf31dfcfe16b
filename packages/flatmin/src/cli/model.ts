/**
 * The demo's model: an MLP 784-256-256-10 (ReLU, softmax output). Every kernel has a
 * seeded Glorot-uniform initializer, so the same seed gives the same initial weights
 * for the SGD run and the SAM run.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES } from './data.js';

export const HIDDEN_UNITS = [256, 256] as const;

export function buildMlp(seed: number): tfl.Sequential {
  const model = tfl.sequential();
  HIDDEN_UNITS.forEach((units, i) => {
    model.add(
      tfl.layers.dense({
        ...(i === 0 ? { inputShape: [IMAGE_SIZE] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
  });
  model.add(
    tfl.layers.dense({
      units: NUM_CLASSES,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + HIDDEN_UNITS.length }),
    }),
  );
  return model;
}
