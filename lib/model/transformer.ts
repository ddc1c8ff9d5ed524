import type * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import type { DeviceUsage, Kernels, TokenChoice, WeightDtype } from './kernels.ts';
import { KVCache, type Step } from './kvcache.ts';

/**
 * Rewrites the residual stream after a decoder layer (hook point `resid_post.L`), for every token of the
 * step: `h` is [tokens, d_model], the step's rows packed one after another (row r has `counts[r]` tokens and
 * carries `tags[r]`, e.g. the index of the request it generates). Return a new tensor (or a promise of one,
 * for hooks that read values back); do not dispose `h`.
 */
export type ResidualHook = (
  h: tf.Tensor2D,
  info: { layer: number; counts: Int32Array; tags: ArrayLike<number> },
) => tf.Tensor2D | Promise<tf.Tensor2D>;

export interface ForwardOptions {
  /** Layers whose resid_post to return (after any hook at that layer). */
  readLayers?: Iterable<number>;
  /** Hooks by layer. */
  hooks?: Map<number, ResidualHook>;
  /** Which positions' logits to compute: all, the last of each row (generation), or none (read-out only). */
  logits?: 'all' | 'last' | 'none';
  /** Stop after this layer (no logits): capture only needs the stream up to the feature layer. */
  stopAfterLayer?: number;
  /** Cache slot of each row (default: row r in slot r). */
  slots?: ArrayLike<number>;
  /** What hooks see for each row (default: the row's index). */
  tags?: ArrayLike<number>;
  /**
   * Choose each row's next token on the device (instead of returning logits), one choice per row: what
   * generation needs, without reading a vocabulary of logits back per row.
   */
  sample?: TokenChoice[];
}

export interface ForwardResult {
  /** [tokens, vocab] for 'all' (rows packed), [rows, vocab] for 'last', null for 'none'. */
  logits: tf.Tensor2D | null;
  /** resid_post.L as [tokens, d_model], rows packed. The caller disposes these and the logits. */
  resid: Map<number, tf.Tensor2D>;
  /** With `sample`: each row's next token. */
  tokens: Int32Array | null;
}

/** A decoder-only language model on a device: what generation, capture and the commands use. */
export interface Model {
  readonly config: ModelConfig;
  /** The dtype its weights are held in on the device, and their bytes there. */
  readonly dtype: WeightDtype;
  readonly weightBytes: number;
  /** A KV cache of `slots` sequences of up to `capacity` tokens each (default: max_position_embeddings). */
  newCache(slots: number, capacity?: number): KVCache;
  /**
   * Runs the new tokens of each row (`rows[r]`, any number ≥ 1 per row) through the model, appending them to
   * the row's cache slot. Asynchronous because a hook may read values back.
   */
  forward(rows: ArrayLike<number>[], cache: KVCache, opts?: ForwardOptions): Promise<ForwardResult>;
  /** Device bytes now and at peak, and kernel dispatches, since the last resetUsage (kernels.ts). */
  usage(): DeviceUsage;
  resetUsage(): void;
  /** Frees the device memory of the weights. */
  dispose(): void;
}

/** A Llama-3 or Gemma-2 decoder-only transformer, on whatever device its kernels run. */
export class Transformer<A> implements Model {
  constructor(
    readonly config: ModelConfig,
    private readonly k: Kernels<A>,
  ) {}

  get dtype(): WeightDtype {
    return this.k.dtype;
  }

  get weightBytes(): number {
    return this.k.weightBytes;
  }

  usage(): DeviceUsage {
    return this.k.usage();
  }

  resetUsage(): void {
    this.k.resetUsage();
  }

  newCache(slots: number, capacity = this.config.maxPositions): KVCache {
    const cache: KVCache = new KVCache(slots, capacity, () => this.k.releaseCache(cache));
    this.k.allocateCache(cache);
    return cache;
  }

  async forward(rows: ArrayLike<number>[], cache: KVCache, opts: ForwardOptions = {}): Promise<ForwardResult> {
    const cfg = this.config;
    this.checkPositions(rows, cache, opts.slots);
    const step = cache.plan(rows, opts.slots);
    const readLayers = new Set(opts.readLayers ?? []);
    const lastLayer = opts.stopAfterLayer ?? cfg.numLayers - 1;
    const tags = opts.tags ?? Int32Array.from(rows, (_, r) => r);
    const resid = new Map<number, tf.Tensor2D>();

    let h = this.k.embed(step);
    try {
      for (let layer = 0; layer <= lastLayer; layer++) {
        h = await this.decoderLayer(h, layer, step, cache);
        const hook = opts.hooks?.get(layer);
        if (hook) h = await this.hooked(h, (t) => hook(t, { layer, counts: step.counts, tags }));
        if (readLayers.has(layer)) resid.set(layer, this.k.toTensor(h));
      }
      cache.commit(step);
      const last = Int32Array.from(step.counts, (_, r) => step.offsets[r + 1] - 1);
      if (opts.sample) return { logits: null, resid, tokens: await this.k.sample(h, last, step, cache, opts.sample) };
      const want = opts.stopAfterLayer === undefined ? (opts.logits ?? 'all') : 'none';
      return { logits: want === 'none' ? null : this.k.logits(h, want === 'last' ? last : null), resid, tokens: null };
    } catch (err) {
      resid.forEach((t) => t.dispose());
      throw err;
    } finally {
      this.k.free(h);
    }
  }

  /** One decoder block: attention, then the MLP, each added into the residual stream. */
  private async decoderLayer(h: A, layer: number, step: Step, cache: KVCache): Promise<A> {
    const k = this.k;
    const q = await k.queries(h, layer, step, cache);
    const z = await k.attend(q, layer, step, cache);
    k.free(q);
    const mid = k.residual(h, z, layer, 'attn');
    k.free(z);
    k.free(h);
    const hidden = k.mlpHidden(mid, layer);
    const out = k.residual(mid, hidden, layer, 'mlp');
    k.free(hidden);
    k.free(mid);
    return out;
  }

  /** Runs a hook on a tfjs copy of the activation and takes its result back onto the device. */
  private async hooked(a: A, hook: (t: tf.Tensor2D) => tf.Tensor2D | Promise<tf.Tensor2D>): Promise<A> {
    const t = this.k.toTensor(a);
    try {
      const y = await hook(t);
      try {
        return this.k.fromTensor(y, a);
      } finally {
        y.dispose();
      }
    } finally {
      t.dispose();
    }
  }

  /** Each row must stay within the model's max_position_embeddings. */
  private checkPositions(rows: ArrayLike<number>[], cache: KVCache, slots: ArrayLike<number> | undefined): void {
    const limit = this.config.maxPositions;
    rows.forEach((row, r) => {
      const n = cache.lengths[slots ? slots[r] : r] + row.length;
      if (n > limit)
        throw new InputError(
          `sequence ${r} of the batch reaches ${n} tokens, past the model's max_position_embeddings (${limit})`,
        );
    });
  }

  dispose(): void {
    this.k.dispose();
  }
}
