/**
 * The shifted task: every digit rotated by 90° counter-clockwise (an exact pixel permutation,
 * no interpolation), the labels unchanged.
 */
import type { Dataset } from '@flatmin/example-mnist/dist/data.js';

/** Rotate one `side × side` row-major image by 90° counter-clockwise: out[i][j] = in[j][side − 1 − i]. */
export function rotateImage(image: ArrayLike<number>, side: number, out: Float32Array = new Float32Array(side * side)): Float32Array {
  for (let i = 0; i < side; i += 1) for (let j = 0; j < side; j += 1) out[i * side + j] = image[j * side + (side - 1 - i)]!;
  return out;
}

/** Every image of a 28×28 dataset rotated (a new dataset; the labels shared). */
export function rotateDataset(dataset: Dataset, side = 28): Dataset {
  const images = new Float32Array(dataset.images.length);
  const size = side * side;
  for (let n = 0; n < dataset.size; n += 1) rotateImage(dataset.images.subarray(n * size, (n + 1) * size), side, images.subarray(n * size, (n + 1) * size));
  return { images, labels: dataset.labels, size: dataset.size };
}
