// The small models the MESA tests train.
import * as tfl from '@tensorflow/tfjs-layers';

/** dense(5) → BatchNorm → ReLU → dense(2) logits, seeded (a fresh one has new variable names). */
export function bnStudent(): tfl.Sequential {
  const s = tfl.sequential();
  s.add(tfl.layers.dense({ units: 5, inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  s.add(tfl.layers.batchNormalization());
  s.add(tfl.layers.activation({ activation: 'relu' }));
  s.add(tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return s;
}
