import type * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import { lastBlockFor } from './hooks.ts';
import type { DeviceUsage, Kernels, Projection, TokenChoice, WeightDtype } from './kernels.ts';
import { KVCache, type Step } from './kvcache.ts';
import { type ActivationHook, HookSites } from './sites.ts';

export interface ForwardOptions {
  /** Hook points whose activation to return (names as lib/model/hooks.ts parses them; after any hook there). */
  read?: Iterable<string>;
  /** Hooks by hook point name: each rewrites the activation there (lib/model/sites.ts). */
  hooks?: Map<string, ActivationHook>;
  /**
   * Which positions' logits to compute: all, the last of each row (generation), or none — then the pass stops
   * at the last hook point read (capture only needs the stream up to the feature's hook point).
   */
  logits?: 'all' | 'last' | 'none';
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
  /** The activations read, under the names `read` gave, as [tokens, width], rows packed. The caller disposes these and the logits. */
  acts: Map<string, tf.Tensor2D>;
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

/**
 * A Llama-3 or Gemma-2 decoder-only transformer, on whatever device its kernels run, with hooks and read-outs
 * at named hook points (lib/model/hooks.ts).
 */
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
    const tags = opts.tags ?? Int32Array.from(rows, (_, r) => r);
    const sites = new HookSites(cfg, opts.hooks, opts.read, step.counts, tags);
    const want = opts.logits ?? 'all';
    const lastLayer = want === 'none' ? Math.max(-1, ...sites.readPoints.map(lastBlockFor)) : cfg.numLayers - 1;
    const k = this.k;

    let h = k.embed(step);
    try {
      h = await sites.at('embed', 0, h, k);
      for (let layer = 0; layer <= lastLayer; layer++) {
        h = await sites.at('resid_pre', layer, h, k);
        h = await this.decoderLayer(h, layer, step, cache, sites);
        h = await sites.at('resid_post', layer, h, k);
      }
      // A read of resid_pre.L with nothing later: the input of block L, where the pass stopped.
      if (lastLayer + 1 < cfg.numLayers) h = await sites.at('resid_pre', lastLayer + 1, h, k);
      cache.commit(step);
      const last = Int32Array.from(step.counts, (_, r) => step.offsets[r + 1] - 1);
      if (opts.sample)
        return { logits: null, acts: sites.acts, tokens: await k.sample(h, last, step, cache, opts.sample) };
      return {
        logits: want === 'none' ? null : k.logits(h, want === 'last' ? last : null),
        acts: sites.acts,
        tokens: null,
      };
    } catch (err) {
      sites.dispose();
      throw err;
    } finally {
      k.free(h);
    }
  }

  /**
   * One decoder block: attention, then the MLP, each added into the residual stream, with the hook sites
   * inside it: attn_z (the heads side by side, before o_proj), attn_out and mlp_out (what each sublayer adds
   * into the stream: after Gemma-2's post-attention and post-feedforward norms, as TransformerLens places
   * them) and resid_mid. Frees h.
   */
  private async decoderLayer(h: A, layer: number, step: Step, cache: KVCache, sites: HookSites): Promise<A> {
    const k = this.k;
    const q = await k.queries(h, layer, step, cache);
    let z = await k.attend(q, layer, step, cache);
    k.free(q);
    z = await sites.at('attn_z', layer, z, k);
    const mid = await sites.at('resid_mid', layer, await this.sublayer(h, z, layer, 'attn', sites), k);
    k.free(z);
    k.free(h);
    const hidden = k.mlpHidden(mid, layer);
    const out = await this.sublayer(mid, hidden, layer, 'mlp', sites);
    k.free(hidden);
    k.free(mid);
    return out;
  }

  /** h + project(x): one fused kernel unless a hook or read-out sits at the projection's output (attn_out, mlp_out). */
  private async sublayer(h: A, x: A, layer: number, which: Projection, sites: HookSites): Promise<A> {
    const kind = which === 'attn' ? 'attn_out' : 'mlp_out';
    if (!sites.active(kind, layer)) return this.k.residual(h, x, layer, which);
    const y = await sites.at(kind, layer, this.k.project(x, layer, which), this.k);
    const out = this.k.add(h, y);
    this.k.free(y);
    return out;
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
