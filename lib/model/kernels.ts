// What a device provides to run the decoder: the model's weights in the device's layout and dtype, and the
// few operations a Llama/Gemma-2 block is made of. The transformer (transformer.ts) is written once against
// this interface; each backend implements it (tfjs/ on CPU backends, webgpu/ with fused WGSL kernels), so the
// model code holds no device branches. A call may run the steps it names as one fused kernel; the arithmetic
// is the textbook one, checked against transformers on every backend.
import type * as tf from '@tensorflow/tfjs';
import type { KVCache, Step } from './kvcache.ts';
import { firstNonFinite } from '../io/dtype.ts';
import { nextToken, type SamplingOptions } from './sampling.ts';

/**
 * How one row chooses its next token: its settings and its uniform draw in [0, 1) (unused when greedy). The
 * repetition penalty applies to the tokens its cache slot holds (the sequence so far, this step's included).
 */
export interface TokenChoice {
  opts: SamplingOptions;
  u: number;
}

/**
 * The token `sample` gives a row whose logits are not all finite (NaN or Inf: the residual stream overflowed,
 * from an extreme steering value): no token can be drawn from them, and the row's generation stops there.
 */
export const NON_FINITE_TOKEN = -1;

/** sampling.ts's rule on one row's logits, or NON_FINITE_TOKEN when they are not all finite. */
export function pickToken(logits: Float32Array, seen: Iterable<number>, choice: TokenChoice): number {
  return firstNonFinite(logits) >= 0 ? NON_FINITE_TOKEN : nextToken(logits, seen, choice.opts, choice.u);
}

/**
 * What a device holds for a model: bytes now (weights, KV caches, activations, the tfjs tensors of hooks and
 * read-outs) and the most since the last reset, and the kernel dispatches recorded since then (null where
 * tfjs runs the ops). On the CPU backends the KV cache sits in JS memory and counts too; their peak is
 * sampled whenever an activation is freed, so a peak inside one tfjs op is not seen.
 */
export interface DeviceUsage {
  bytes: number;
  peakBytes: number;
  dispatches: number | null;
}

/** The weight dtypes a model can be held in on a device. */
export type WeightDtype = 'f32' | 'bf16' | 'f16' | 'fp8';

/** Which of a block's two output projections: attention's o_proj or the MLP's down_proj. */
export type Projection = 'attn' | 'mlp';

/**
 * `A` is an activation [tokens, width] on the device: valid until passed to `free` (the tfjs kernels return a
 * new tensor per call; the WebGPU kernels reuse preallocated buffers, so a value must not be read after the
 * call that supersedes it).
 */
export interface Kernels<A> {
  /** The dtype the weights are held in, and their device bytes. */
  readonly dtype: WeightDtype;
  readonly weightBytes: number;

  /** Token embeddings of the step's tokens, [tokens, d_model] (Gemma-2: × √d_model). */
  embed(step: Step): A;
  /**
   * The attention's input side: rmsnorm(h)·[W_q W_k W_v] (+ bias), RoPE at the step's positions, keys and
   * values written into the cache slots in place; returns the queries (scaled) [tokens, n_heads·head_dim].
   */
  queries(h: A, layer: number, step: Step, cache: KVCache): Promise<A>;
  /** Causal attention of the step's queries over their own slots (sliding window, soft-cap): z [tokens, n_heads·head_dim]. */
  attend(q: A, layer: number, step: Step, cache: KVCache): Promise<A>;
  /** act(rmsnorm(h)·W_gate) ⊙ (rmsnorm(h)·W_up), the MLP's hidden layer [tokens, d_ff]. */
  mlpHidden(h: A, layer: number): A;
  /** What a sublayer adds into the stream: x·W_o or x·W_down (+ bias), then Gemma-2's post-norm. */
  project(x: A, layer: number, which: Projection): A;
  /** h + y. */
  add(h: A, y: A): A;
  /** h + project(x): the projection and the residual add in one kernel where the device can. */
  residual(h: A, x: A, layer: number, which: Projection): A;
  /** Final norm, lm_head and Gemma-2's soft-cap for the given packed rows (all when null): [rows, vocab]. */
  logits(h: A, rows: Int32Array | null): tf.Tensor2D;
  /**
   * The next token of each of the step's rows (after the step is committed to the cache): the logits of its
   * last token (`last`, as `logits`), then sampling.ts's rule with the row's choice and its slot's tokens.
   * Each row's token depends on its own logits, settings, sequence and draw only; a row whose logits are not
   * all finite gets NON_FINITE_TOKEN (pickToken).
   */
  sample(h: A, last: Int32Array, step: Step, cache: KVCache, choices: TokenChoice[]): Promise<Int32Array>;

  /** A tfjs tensor holding a copy of `a` (for hooks and read-outs); the caller owns it. */
  toTensor(a: A): tf.Tensor2D;
  /** `into` (an activation of t's shape) replaced by t's values; the caller still owns `t`. */
  fromTensor(t: tf.Tensor2D, into: A): A;
  free(a: A): void;

  usage(): DeviceUsage;
  /** Starts a new peak (at the bytes held now) and a new dispatch count. */
  resetUsage(): void;

  /** Device storage for a cache (keys and values of every layer for each slot), allocated once. */
  allocateCache(cache: KVCache): void;
  releaseCache(cache: KVCache): void;
  /** Frees the weights. */
  dispose(): void;
}
