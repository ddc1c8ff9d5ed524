// Attention over a row's own cache slot on the CPU backends. Keys and values live in JS memory, one
// preallocated [capacity, n_kv·head_dim] matrix per (layer, slot), written in place. A row with few new tokens
// (decode) attends in plain loops; a longer one (prefill) through tfjs 2-D matmuls per kv head, tfjs-wasm's
// fast path. Which way a row goes depends on its own token count only, and every reduction runs over the row's
// own positions in a fixed order, so a row's result never depends on the other rows of the step.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config.ts';

/** Rows with at most this many new tokens attend in JS loops (no tensor traffic). */
export const LOOP_MAX_TOKENS = 4;

const MASKED = -1e30;

/** One (layer, slot)'s keys or values: [capacity, n_kv·head_dim], row p = position p. */
export type SlotMatrix = Float32Array;

export interface RowAttention {
  /** Queries of the row's new tokens, [tokens, n_heads·head_dim], already × attention scale and rotated. */
  q: Float32Array;
  keys: SlotMatrix;
  values: SlotMatrix;
  /** Position of the first new token; the row attends to positions [0, start + t] for its token t. */
  start: number;
  tokens: number;
  /** Sliding window of this layer, or null. */
  window: number | null;
}

/** The first position query position p sees (sliding window: p − window + 1). */
const firstVisible = (p: number, window: number | null) => (window === null ? 0 : Math.max(0, p - window + 1));

/** z [tokens, n_heads·head_dim] of one row, in plain loops (decode). */
export function attendLoops(cfg: ModelConfig, a: RowAttention, out: Float32Array): void {
  const { numHeads: H, numKvHeads: KV, headDim: hd, attnLogitSoftcap: cap } = cfg;
  const G = H / KV;
  const width = KV * hd;
  const scores = new Float64Array(a.start + a.tokens);
  for (let t = 0; t < a.tokens; t++) {
    const p = a.start + t;
    const lo = firstVisible(p, a.window);
    for (let h = 0; h < H; h++) {
      const q0 = (t * H + h) * hd;
      const k0 = Math.floor(h / G) * hd;
      let max = -Infinity;
      for (let s = lo; s <= p; s++) {
        let dot = 0;
        const at = s * width + k0;
        for (let i = 0; i < hd; i++) dot += a.q[q0 + i] * a.keys[at + i];
        if (cap !== null) dot = Math.tanh(dot / cap) * cap;
        scores[s] = dot;
        if (dot > max) max = dot;
      }
      let sum = 0;
      for (let s = lo; s <= p; s++) sum += scores[s] = Math.exp(scores[s] - max);
      const o0 = (t * H + h) * hd;
      for (let i = 0; i < hd; i++) out[o0 + i] = 0;
      for (let s = lo; s <= p; s++) {
        const w = scores[s] / sum;
        const at = s * width + k0;
        for (let i = 0; i < hd; i++) out[o0 + i] += w * a.values[at + i];
      }
    }
  }
}

/** z [tokens, n_heads·head_dim] of one row through tfjs: per kv head, two 2-D matmuls and a softmax (prefill). */
export async function attendMatmul(cfg: ModelConfig, a: RowAttention, out: Float32Array): Promise<void> {
  const { numHeads: H, numKvHeads: KV, headDim: hd, attnLogitSoftcap: cap } = cfg;
  const G = H / KV;
  const T = a.tokens;
  const S = a.start + T;
  const width = KV * hd;
  // Additive mask [T, S]: causal, and the sliding window.
  const mask = new Float32Array(T * S).fill(MASKED);
  for (let t = 0; t < T; t++) mask.fill(0, t * S + firstVisible(a.start + t, a.window), t * S + a.start + t + 1);
  const maskT = tf.tensor3d(mask, [1, T, S]);
  try {
    for (let kv = 0; kv < KV; kv++) {
      // The group's queries [G·T, hd] (head-major), its keys transposed [hd, S] and values [S, hd].
      const q = new Float32Array(G * T * hd);
      for (let g = 0; g < G; g++)
        for (let t = 0; t < T; t++)
          q.set(a.q.subarray((t * H + kv * G + g) * hd, (t * H + kv * G + g + 1) * hd), (g * T + t) * hd);
      const kT = new Float32Array(hd * S);
      const v = new Float32Array(S * hd);
      for (let s = 0; s < S; s++) {
        const at = s * width + kv * hd;
        for (let i = 0; i < hd; i++) kT[i * S + s] = a.keys[at + i];
        v.set(a.values.subarray(at, at + hd), s * hd);
      }
      const z = tf.tidy(() => {
        let scores: tf.Tensor = tf.matMul(tf.tensor2d(q, [G * T, hd]), tf.tensor2d(kT, [hd, S]));
        if (cap !== null) scores = tf.tanh(scores.div(cap)).mul(cap);
        const probs = tf.softmax(tf.add(scores.reshape([G, T, S]), maskT)).reshape([G * T, S]) as tf.Tensor2D;
        return tf.matMul(probs, tf.tensor2d(v, [S, hd]));
      });
      const zs = (await z.data()) as Float32Array;
      z.dispose();
      for (let g = 0; g < G; g++)
        for (let t = 0; t < T; t++)
          out.set(zs.subarray((g * T + t) * hd, (g * T + t + 1) * hd), (t * H + kv * G + g) * hd);
    }
  } finally {
    maskT.dispose();
  }
}
