// A residual hook that turns every token of the rows tagged `tag` into NaN, as an overflowed residual stream
// would (a step's rows are packed: row r has counts[r] tokens).
import * as tf from '@tensorflow/tfjs';

export const nanRows =
  (tag: number) =>
  async (h: tf.Tensor2D, info: { counts: Int32Array; tags: ArrayLike<number> }): Promise<tf.Tensor2D> =>
    tf.tidy(() => {
      const perToken = Array.from(info.counts).flatMap((n, r) => new Array<number>(n).fill(info.tags[r]));
      const rows = tf.tensor2d(perToken, [perToken.length, 1]);
      return tf.where(rows.equal(tag), tf.fill(h.shape, Number.NaN), h) as tf.Tensor2D;
    });
