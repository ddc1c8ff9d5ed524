// JumpReLU SAE (SAELens `jumprelu`, Gemma Scope): f = relu(pre)·[pre > θ], pre = z + b_enc.
import * as tf from '@tensorflow/tfjs';
import { type PerLatent, gathered } from './types.ts';

export const jumprelu: PerLatent = {
  describe: 'JumpReLU: f = relu(pre)·[pre > θ] (SAELens jumprelu, Gemma Scope)',
  saeLens: [{ architecture: 'jumprelu' }],
  implied: ['threshold', 'log_threshold'],
  vectors: {
    b_enc: { stored: [{ name: 'b_enc' }] },
    threshold: { stored: [{ name: 'threshold' }, { name: 'log_threshold', map: Math.exp }] },
  },
  select: 'value',
  value(z, j, v) {
    const pre = Math.fround(z + v.b_enc[j]);
    return pre > 0 && pre > v.threshold[j] ? pre : 0;
  },
  codes: (z, latents, v) =>
    tf.tidy(() => {
      const pre = tf.add(z, tf.tensor1d(gathered(v, 'b_enc', latents)));
      const over = tf.greater(pre, tf.tensor1d(gathered(v, 'threshold', latents)));
      return tf.mul(tf.relu(pre), tf.cast(over, 'float32')) as tf.Tensor2D;
    }),
};
