import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { architecture } from './architectures/index.ts';
import type { Sae } from './sae.ts';
import { TopKAccumulator } from './topk.ts';

/**
 * Per-token sparse SAE codes in CSR form: token t's non-zero codes are
 * latents[rowPtr[t] .. rowPtr[t+1]) with values at the same positions, latents ascending.
 */
export interface SparseCodes {
  nTokens: number;
  dSae: number;
  rowPtr: Int32Array;
  latents: Int32Array;
  values: Float32Array;
}

function checkInput(sae: Sae, h: tf.Tensor): void {
  if (h.rank !== 2 || h.shape[1] !== sae.dIn) {
    throw new InputError(`SAE input has shape [${h.shape}], expected [tokens, ${sae.dIn}] (d_in of ${sae.info.path})`);
  }
}

/** The SAE input: h, or h − b_dec when the SAE centres its input. Caller disposes. */
export function saeInput(sae: Sae, h: tf.Tensor2D): tf.Tensor2D {
  return sae.applyBDecToInput ? tf.tidy(() => tf.sub(h, tf.tensor1d(sae.bDec))) : tf.clone(h);
}

/**
 * Encodes a batch of residual-stream vectors h [tokens, d_in] into sparse codes, one latent block at a
 * time: z = x·W_enc, then the architecture's code of each latent (lib/sae/architectures), kept where
 * non-zero, or its pre-activation ranked by the k-largest rule (TopK: relu of the k largest; ties go to the
 * lower latent index). Does not dispose h. Asynchronous: each block's z is read back with `data()`, the
 * one read WebGPU supports in Node.
 */
export async function encodeSparse(sae: Sae, h: tf.Tensor2D): Promise<SparseCodes> {
  checkInput(sae, h);
  const T = h.shape[0];
  const x = saeInput(sae, h);
  const act = sae.activation;
  const arch = architecture(act);
  const topk = act.kind === 'topk' ? new TopKAccumulator(T, act.k) : null;
  const lists: { latents: number[]; values: number[] }[] = Array.from({ length: T }, () => ({
    latents: [],
    values: [],
  }));
  const vectors = sae.vectors;
  try {
    for (let b = 0; b < sae.nBlocks; b++) {
      const [j0, j1] = sae.blockRange(b);
      const B = j1 - j0;
      const p = sae.withEncoderBlock(b, (w) => tf.matMul(x, w));
      const z = (await p.data()) as Float32Array;
      p.dispose();
      for (let t = 0; t < T; t++) {
        const row = t * B;
        const out = lists[t];
        for (let i = 0; i < B; i++) {
          const j = j0 + i;
          const v = arch.value(z[row + i], j, vectors);
          if (topk) topk.offer(t, j, v);
          else if (v !== 0) {
            out.latents.push(j);
            out.values.push(v);
          }
        }
      }
    }
  } finally {
    x.dispose();
  }
  if (topk) for (let t = 0; t < T; t++) topk.positiveSorted(t, lists[t]);
  return pack(lists, sae.dSae);
}

function pack(lists: { latents: number[]; values: number[] }[], dSae: number): SparseCodes {
  const rowPtr = new Int32Array(lists.length + 1);
  for (let t = 0; t < lists.length; t++) rowPtr[t + 1] = rowPtr[t] + lists[t].latents.length;
  const latents = new Int32Array(rowPtr[lists.length]);
  const values = new Float32Array(rowPtr[lists.length]);
  for (let t = 0; t < lists.length; t++) {
    latents.set(lists[t].latents, rowPtr[t]);
    values.set(lists[t].values, rowPtr[t]);
  }
  return { nTokens: lists.length, dSae, rowPtr, latents, values };
}

/** Dense codes [tokens, d_sae], row-major. */
export function denseCodes(codes: SparseCodes): Float32Array {
  const out = new Float32Array(codes.nTokens * codes.dSae);
  for (let t = 0; t < codes.nTokens; t++) {
    for (let p = codes.rowPtr[t]; p < codes.rowPtr[t + 1]; p++)
      out[t * codes.dSae + codes.latents[p]] = codes.values[p];
  }
  return out;
}

/** The code of `latent` at each token (0 where inactive). */
export function codeColumn(codes: SparseCodes, latent: number): Float32Array {
  const out = new Float32Array(codes.nTokens);
  for (let t = 0; t < codes.nTokens; t++) {
    for (let p = codes.rowPtr[t]; p < codes.rowPtr[t + 1]; p++)
      if (codes.latents[p] === latent) out[t] = codes.values[p];
  }
  return out;
}

/**
 * decode(f) = f·W_dec + b_dec [tokens, d_in], using only the decoder rows of latents active somewhere in
 * the batch (uploaded in blocks of the SAE's block size). Caller owns the returned tensor.
 */
export function decode(sae: Sae, codes: SparseCodes): tf.Tensor2D {
  if (codes.dSae !== sae.dSae) throw new InputError(`codes have d_sae ${codes.dSae}, the SAE has ${sae.dSae}`);
  const T = codes.nTokens;
  const active = [...new Set(codes.latents)].sort((a, b) => a - b);
  const column = new Int32Array(sae.dSae).fill(-1);
  let out: tf.Tensor2D = tf.tidy(() => tf.add(tf.zeros([T, sae.dIn]), tf.tensor1d(sae.bDec)));
  for (let s = 0; s < active.length; s += sae.blockLatents) {
    const chunk = active.slice(s, s + sae.blockLatents);
    chunk.forEach((latent, i) => {
      column[latent] = i;
    });
    const f = new Float32Array(T * chunk.length);
    for (let t = 0; t < T; t++) {
      for (let p = codes.rowPtr[t]; p < codes.rowPtr[t + 1]; p++) {
        const c = column[codes.latents[p]];
        if (c >= 0) f[t * chunk.length + c] = codes.values[p];
      }
    }
    chunk.forEach((latent) => {
      column[latent] = -1;
    });
    // one block at a time on the backend: free it before the next is uploaded
    const prev = out;
    out = tf.tidy(() => {
      const rows = tf.tensor2d(sae.decoder.gatherRowsF32(chunk), [chunk.length, sae.dIn]);
      return tf.add(prev, tf.matMul(tf.tensor2d(f, [T, chunk.length]), rows));
    });
    prev.dispose();
  }
  return out;
}
