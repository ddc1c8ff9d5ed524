import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { codeColumn, encodeSparse, saeInput } from './encode.ts';
import type { Sae } from './sae.ts';

/** One intervention on one latent: `add` v to its code, or `clamp` it to v (`clamp 0` = zero-ablation). */
export interface InterventionSpec {
  latent: number;
  value: number;
  mode: 'add' | 'clamp';
}

/**
 * Rewrites the residual stream h [tokens, d_model] at the steering layer. Returns a new tensor; the caller
 * keeps ownership of h and owns the result (dispose both as usual). Holds no tensors between calls.
 */
export type Intervention = (h: tf.Tensor2D) => tf.Tensor2D;

/** Per latent, the net effect of its interventions applied in list order: f' = clamped ? c : f + c. */
interface Net { latent: number; clamped: boolean; c: number }

function foldInterventions(sae: Sae, specs: InterventionSpec[]): Net[] {
  const byLatent = new Map<number, Net>();
  for (const [i, s] of specs.entries()) {
    const where = `intervention ${i} (${JSON.stringify(s)})`;
    if (!Number.isInteger(s.latent) || s.latent < 0 || s.latent >= sae.dSae) throw new InputError(`${where}: latent must be an integer in 0..${sae.dSae - 1}`);
    if (!Number.isFinite(s.value)) throw new InputError(`${where}: value must be a finite number`);
    if (s.mode !== 'add' && s.mode !== 'clamp') throw new InputError(`${where}: mode must be "add" or "clamp"`);
    const net = byLatent.get(s.latent) ?? { latent: s.latent, clamped: false, c: 0 };
    if (s.mode === 'clamp') Object.assign(net, { clamped: true, c: s.value });
    else net.c += s.value;
    byLatent.set(s.latent, net);
  }
  return [...byLatent.values()];
}

/**
 * The error-preserving intervention of DESIGN.md: f = encode(h); err = h − decode(f); clamp: f[i] = v;
 * add: f[i] += v; h' = decode(f) + err. Since decode is affine, h' = h + Σ_i (f'_i − f_i)·W_dec[i], so
 * only the intervened latents are touched: `add` needs no encode at all; `clamp` needs f_i, which for
 * ReLU/JumpReLU is one encoder column per latent and for TopK a full encode (membership depends on all).
 */
export function makeIntervention(sae: Sae, specs: InterventionSpec[]): Intervention {
  const nets = foldInterventions(sae, specs).sort((a, b) => Number(b.clamped) - Number(a.clamped)); // clamped first
  const clamped = nets.filter((n) => n.clamped);
  const latents = nets.map((n) => n.latent);
  const offsets = Float32Array.from(nets, (n) => n.c);
  return (h) => {
    if (h.rank !== 2 || h.shape[1] !== sae.dIn) throw new InputError(`intervention input has shape [${h.shape}], expected [tokens, ${sae.dIn}]`);
    if (nets.length === 0) return tf.clone(h);
    const f = clamped.length ? clampedCodes(sae, h, clamped.map((n) => n.latent)) : null;
    return tf.tidy(() => {
      // delta [T, n] = c − f on clamped columns, c on the others
      let delta: tf.Tensor2D = tf.tile(tf.tensor2d(offsets, [1, nets.length]), [h.shape[0], 1]);
      if (f) {
        const pad = tf.zeros([h.shape[0], nets.length - clamped.length]);
        delta = tf.sub(delta, tf.concat([f, pad], 1));
        f.dispose();
      }
      const rows = tf.tensor2d(sae.decoder.gatherRowsF32(latents), [latents.length, sae.dIn]);
      return tf.add(h, tf.matMul(delta, rows));
    });
  };
}

/** The current codes f [T, m] of the given latents. Caller disposes. */
function clampedCodes(sae: Sae, h: tf.Tensor2D, latents: number[]): tf.Tensor2D {
  const T = h.shape[0];
  if (sae.activation.kind === 'topk') {
    const codes = encodeSparse(sae, h);
    const f = new Float32Array(T * latents.length);
    latents.forEach((latent, i) => codeColumn(codes, latent).forEach((v, t) => { f[t * latents.length + i] = v; }));
    return tf.tensor2d(f, [T, latents.length]);
  }
  const jump = sae.activation.kind === 'jumprelu';
  const x = saeInput(sae, h);
  try {
    return tf.tidy(() => {
      const cols = tf.tensor2d(sae.encoder.gatherColumnsF32(latents), [sae.dIn, latents.length]);
      const pre = tf.add(tf.matMul(x, cols), tf.tensor1d(Float32Array.from(latents, (j) => sae.bEnc[j])));
      const relu = tf.relu(pre);
      if (!jump || !sae.threshold) return relu as tf.Tensor2D;
      const thr = tf.tensor1d(Float32Array.from(latents, (j) => sae.threshold![j]));
      return tf.mul(relu, tf.cast(tf.greater(pre, thr), 'float32')) as tf.Tensor2D;
    });
  } finally {
    x.dispose();
  }
}
