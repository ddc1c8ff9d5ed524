// What one SAE architecture is, as data and two small functions: the names a SAELens cfg.json gives it,
// the per-latent vectors it loads, how a latent's code follows from its encoder column, how the block
// encoder picks a token's codes, and the path a clamp takes to a latent's current code.
import type * as tf from '@tensorflow/tfjs';

/** A per-latent vector [d_sae] of the file: the first stored name found is read (through `map`, e.g. exp of a log). */
export interface VectorSpec {
  /** SAELens tensor names tried in order (a Goodfire file's names are mapped onto these by the loader). */
  stored: readonly { name: string; map?: (x: number) => number }[];
}

/** An architecture's vectors as loaded, by key (all [d_sae], f32). */
export type LatentVectors = Readonly<Record<string, Float32Array>>;

interface Common {
  describe: string;
  /** SAELens cfg.json `architecture` values that mean this entry (activation_fn_str picks among `standard`'s). */
  saeLens: readonly { architecture: string; activationFn?: string }[];
  /** In a file without a config (plain safetensors, Goodfire), one of these tensors present means this architecture. */
  implied?: readonly string[];
  /** The vectors this architecture reads besides W_enc, W_dec and b_dec, by key. */
  vectors: Readonly<Record<string, VectorSpec>>;
  /**
   * From z = x·W_enc[:, j] (x centred when the SAE centres its input), in f32: latent j's code (0 when inactive)
   * for `select: 'value'`, or its pre-activation, which the k-largest rule ranks, for `'topk'`.
   */
  value(z: number, j: number, v: LatentVectors): number;
}

/** Each latent's code depends on its own encoder column only: a clamp reads just the clamped latents' columns. */
export interface PerLatent extends Common {
  select: 'value';
  /** `value` over a block on the backend: z [tokens, m] of the latents `latents` → their codes [tokens, m]. */
  codes(z: tf.Tensor2D, latents: readonly number[], v: LatentVectors): tf.Tensor2D;
}

/** The k largest pre-activations per token (then ReLU): membership depends on every latent, so a clamp encodes fully. */
export interface KLargest extends Common {
  select: 'topk';
}

export type ArchitectureEntry = PerLatent | KLargest;

/** The entries of `v[key]` at `latents`, as a backend vector (for `codes`). */
export function gathered(v: LatentVectors, key: string, latents: readonly number[]): Float32Array {
  return Float32Array.from(latents, (j) => v[key][j]);
}
