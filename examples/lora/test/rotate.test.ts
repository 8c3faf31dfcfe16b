import { describe, expect, it } from 'vitest';
import { rotateDataset, rotateImage } from '../src/rotate.js';

describe('rotateImage', () => {
  it('rotates a 3×3 image by 90° counter-clockwise', () => {
    // 1 2 3        3 6 9
    // 4 5 6   →    2 5 8
    // 7 8 9        1 4 7
    expect(Array.from(rotateImage([1, 2, 3, 4, 5, 6, 7, 8, 9], 3))).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
  });

  it('four rotations give the image back; a dataset keeps its labels', () => {
    const image: Float32Array = Float32Array.from({ length: 16 }, (_, i) => i);
    let out: Float32Array = image;
    for (let k = 0; k < 4; k += 1) out = rotateImage(out, 4);
    expect(Array.from(out)).toEqual(Array.from(image));
    const data = { images: Float32Array.from({ length: 32 }, (_, i) => i), labels: Uint8Array.from([3, 7]), size: 2 };
    const rotated = rotateDataset(data, 4);
    expect(rotated.labels).toBe(data.labels);
    expect(Array.from(rotated.images.subarray(16))).toEqual(Array.from(rotateImage(data.images.subarray(16), 4)));
  });
});
