import * as tf from '@tensorflow/tfjs';
import type { RopeConfig } from './config.ts';

/** Inverse frequencies θ_i = theta^(−2i/d), with Llama-3.1's smooth long-wavelength rescaling when configured. */
export function inverseFrequencies(rope: RopeConfig, headDim: number): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / rope.theta ** ((2 * i) / headDim);
  if (rope.type === 'llama3') {
    const lowWavelen = rope.originalMaxPositions / rope.lowFreqFactor;
    const highWavelen = rope.originalMaxPositions / rope.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen)
        inv[i] /= rope.factor; // long wavelengths: interpolate fully
      else if (wavelen >= highWavelen) {
        // in between: blend the scaled and unscaled frequency
        const smooth =
          (rope.originalMaxPositions / wavelen - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / rope.factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/**
 * cos and sin tables for the given positions, shaped [positions.length, 1, headDim] to broadcast over heads.
 * Each frequency appears twice (first and second half), matching the rotate-half convention.
 */
export function rotaryTables(inv: Float64Array, positions: ArrayLike<number>): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
  const half = inv.length;
  const hd = 2 * half;
  const cos = new Float32Array(positions.length * hd);
  const sin = new Float32Array(positions.length * hd);
  for (let p = 0; p < positions.length; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(Math.fround(inv[i]) * positions[p]);
      const c = Math.cos(angle),
        s = Math.sin(angle);
      cos[p * hd + i] = cos[p * hd + half + i] = c;
      sin[p * hd + i] = sin[p * hd + half + i] = s;
    }
  }
  return { cos: tf.tensor3d(cos, [positions.length, 1, hd]), sin: tf.tensor3d(sin, [positions.length, 1, hd]) };
}

/**
 * The signed permutation R with x·R = rotate_half(x) = [−x₂, x₁]: one small matmul instead of slices and a concat.
 */
export function rotateHalfMatrix(headDim: number): tf.Tensor2D {
  const half = headDim / 2;
  const r = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    r[(half + i) * headDim + i] = -1; // output i takes −x[half + i]
    r[i * headDim + half + i] = 1; // output half + i takes x[i]
  }
  return tf.tensor2d(r, [headDim, headDim]);
}

/** Applies rotary embeddings to x [rows, heads, headDim] with per-row tables [rows, 1, headDim]. */
export function applyRotary(x: tf.Tensor3D, cos: tf.Tensor3D, sin: tf.Tensor3D, rotateHalf: tf.Tensor2D): tf.Tensor3D {
  const [rows, heads, hd] = x.shape;
  const rotated = tf.matMul(x.reshape([rows * heads, hd]), rotateHalf).reshape([rows, heads, hd]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}
