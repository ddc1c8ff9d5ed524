// Gated SAE (Rajamanoharan et al. 2024; SAELens `gated`): a gate decides which latents are active, a
// magnitude path with the same encoder directions, rescaled per latent by exp(r_mag), sets their values:
// f = [z + b_gate > 0] · relu(z·exp(r_mag) + b_mag), z = (x − b_dec)·W_enc.
import * as tf from '@tensorflow/tfjs';
import { type PerLatent, gathered } from './types.ts';

export const gated: PerLatent = {
  describe: 'Gated: f = [x·W_enc + b_gate > 0]·relu(x·W_enc·exp(r_mag) + b_mag) (SAELens gated)',
  saeLens: [{ architecture: 'gated' }],
  implied: ['r_mag'],
  vectors: {
    b_gate: { stored: [{ name: 'b_gate' }] },
    mag_scale: { stored: [{ name: 'r_mag', map: Math.exp }] },
    b_mag: { stored: [{ name: 'b_mag' }] },
  },
  select: 'value',
  value(z, j, v) {
    if (!(Math.fround(z + v.b_gate[j]) > 0)) return 0;
    const mag = Math.fround(Math.fround(z * v.mag_scale[j]) + v.b_mag[j]);
    return mag > 0 ? mag : 0;
  },
  codes: (z, latents, v) =>
    tf.tidy(() => {
      const open = tf.greater(tf.add(z, tf.tensor1d(gathered(v, 'b_gate', latents))), 0);
      const mag = tf.add(
        tf.mul(z, tf.tensor1d(gathered(v, 'mag_scale', latents))),
        tf.tensor1d(gathered(v, 'b_mag', latents)),
      );
      return tf.mul(tf.relu(mag), tf.cast(open, 'float32')) as tf.Tensor2D;
    }),
};
