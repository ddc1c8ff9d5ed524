// ReLU SAE (SAELens `standard`, Goodfire): f = relu(z + b_enc).
import * as tf from '@tensorflow/tfjs';
import { type PerLatent, gathered } from './types.ts';

export const relu: PerLatent = {
  describe: 'ReLU: f = relu(x·W_enc + b_enc)',
  saeLens: [{ architecture: 'standard', activationFn: 'relu' }],
  vectors: { b_enc: { stored: [{ name: 'b_enc' }] } },
  select: 'value',
  value(z, j, v) {
    const pre = Math.fround(z + v.b_enc[j]);
    return pre > 0 ? pre : 0;
  },
  codes: (z, latents, v) =>
    tf.tidy(() => tf.relu(tf.add(z, tf.tensor1d(gathered(v, 'b_enc', latents)))) as tf.Tensor2D),
};
