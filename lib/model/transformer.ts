import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import type { Backend } from '../backend.ts';
import type { ModelConfig } from './config.ts';
import { KVCache } from './kvcache.ts';
import { applyRotary, inverseFrequencies, rotaryTables, rotateHalfMatrix } from './rope.ts';
import { disposeWeights, type LayerWeights, type Linear, type ModelWeights } from './weights.ts';

/**
 * Rewrites the residual stream after a decoder layer (hook point `resid_post.L`), for every position of the
 * step: `h` is [batch·tokens, d_model], row-major by sequence then token. Return a new tensor (or a promise of
 * one, for hooks that read values back); do not dispose `h`.
 */
export type ResidualHook = (
  h: tf.Tensor2D,
  info: { layer: number; batch: number; tokens: number },
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
}

export interface ForwardResult {
  /** [batch·tokens, vocab] for 'all', [batch, vocab] for 'last', null for 'none'. */
  logits: tf.Tensor2D | null;
  /** resid_post.L as [batch·tokens, d_model]. The caller disposes these and the logits. */
  resid: Map<number, tf.Tensor2D>;
}

const MASKED = -1e30;
/** Above this many new tokens per step, attention runs group by group (see attention()). */
const BATCHED_ATTENTION_MAX_TOKENS = 4;

/** The additive mask of one step: whole batch [B, 1, T, S], and per row [1, T, S]. */
interface AttentionMask {
  all: tf.Tensor4D;
  rows: tf.Tensor3D[];
}

/** A Llama-3 or Gemma-2 decoder-only transformer with a KV cache and residual-stream hooks. */
export class Transformer {
  private readonly invFreq: Float64Array;
  private readonly rotateHalf: tf.Tensor2D;

  constructor(
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly backend: Backend,
  ) {
    this.invFreq = inverseFrequencies(config.rope, config.headDim);
    this.rotateHalf = rotateHalfMatrix(config.headDim);
  }

  newCache(batch: number): KVCache {
    return new KVCache(this.config.numLayers, batch);
  }

  /**
   * Runs `tokens` new tokens of each of `batch` rows through the model, appending to `cache`.
   * `ids` and `valid` are [batch, tokens] (row-major); valid = 0 marks padding (left padding for generation).
   * Asynchronous because a hook may read values back (WebGPU in Node reads the device only asynchronously).
   */
  async forward(
    ids: ArrayLike<number>,
    valid: Uint8Array,
    batch: number,
    cache: KVCache,
    opts: ForwardOptions = {},
  ): Promise<ForwardResult> {
    const cfg = this.config;
    const tokens = ids.length / batch;
    const past = cache.length;
    const rows = Array.from({ length: batch }, (_, b) => valid.subarray(b * tokens, (b + 1) * tokens));
    const positions = this.assignPositions(rows, cache);
    cache.extend(rows);
    const readLayers = new Set(opts.readLayers ?? []);
    const lastLayer = opts.stopAfterLayer ?? cfg.numLayers - 1;
    const resid = new Map<number, tf.Tensor2D>();

    const { cos, sin } = rotaryTables(this.invFreq, positions);
    // One mask per distinct window (full attention and, for Gemma-2, the sliding window), built outside any tidy.
    const masks = new Map<number | null, AttentionMask>();
    for (const window of cfg.slidingWindow.slice(0, lastLayer + 1)) {
      if (!masks.has(window)) masks.set(window, attentionMask(cache.valid, past, tokens, window));
    }

    let h = tf.tensor2d(this.embed(ids), [batch * tokens, cfg.hiddenSize]);
    try {
      for (let layer = 0; layer <= lastLayer; layer++) {
        const x = h;
        h = tf.tidy(() =>
          this.decoderLayer(
            x,
            this.weights.layers[layer],
            layer,
            batch,
            tokens,
            cos,
            sin,
            masks.get(cfg.slidingWindow[layer])!,
            cache,
          ),
        );
        x.dispose();
        const hook = opts.hooks?.get(layer);
        if (hook) {
          const y = h;
          h = await hook(y, { layer, batch, tokens });
          y.dispose();
        }
        if (readLayers.has(layer)) resid.set(layer, h.clone());
      }
    } catch (err) {
      h.dispose();
      resid.forEach((t) => t.dispose());
      throw err;
    } finally {
      cos.dispose();
      sin.dispose();
      masks.forEach((m) => [m.all, ...m.rows].forEach((t) => t.dispose()));
    }

    let logits: tf.Tensor2D | null = null;
    const want = opts.stopAfterLayer === undefined ? (opts.logits ?? 'all') : 'none';
    if (want !== 'none') {
      logits = tf.tidy(() => {
        const x = want === 'last' ? lastOfEachRow(h, batch, tokens) : h;
        return this.lmHead(rmsNorm(x, this.weights.finalNorm, cfg.rmsNormEps));
      });
    }
    h.dispose();
    return { logits, resid };
  }

  /** Position ids continue each row's count of real tokens; padding gets position 0 (it is never attended to). */
  private assignPositions(rows: Uint8Array[], cache: KVCache): Int32Array {
    const tokens = rows[0].length;
    const limit = this.config.maxPositions;
    rows.forEach((row, b) => {
      const n = cache.nextPosition[b] + row.reduce((a, v) => a + (v ? 1 : 0), 0);
      if (n > limit)
        throw new InputError(
          `sequence ${b} of the batch reaches ${n} tokens, past the model's max_position_embeddings (${limit})`,
        );
    });
    const pos = new Int32Array(rows.length * tokens);
    rows.forEach((row, b) => {
      for (let t = 0; t < tokens; t++) {
        if (row[t]) pos[b * tokens + t] = cache.nextPosition[b]++;
      }
    });
    return pos;
  }

  private embed(ids: ArrayLike<number>): Float32Array {
    const { hiddenSize: d, vocabSize } = this.config;
    const out = new Float32Array(ids.length * d);
    // Gemma-2 scales embeddings by √d, computed in the weights' dtype (f32 here) as transformers does.
    const scale = this.config.scaleEmbeddings ? Math.fround(Math.sqrt(d)) : 1;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < vocabSize))
        throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
      const row = this.weights.embed.subarray(id * d, (id + 1) * d);
      if (scale === 1) out.set(row, i * d);
      else for (let j = 0; j < d; j++) out[i * d + j] = row[j] * scale;
    }
    return out;
  }

  private decoderLayer(
    h: tf.Tensor2D,
    w: LayerWeights,
    layer: number,
    batch: number,
    tokens: number,
    cos: tf.Tensor3D,
    sin: tf.Tensor3D,
    mask: AttentionMask,
    cache: KVCache,
  ): tf.Tensor2D {
    const eps = this.config.rmsNormEps;
    let attn = this.attention(rmsNorm(h, w.inputNorm, eps), w, layer, batch, tokens, cos, sin, mask, cache);
    if (w.postAttnNorm) attn = rmsNorm(attn, w.postAttnNorm, eps);
    h = tf.add(h, attn);
    let mlp = this.mlp(rmsNorm(h, w.preMlpNorm, eps), w);
    if (w.postMlpNorm) mlp = rmsNorm(mlp, w.postMlpNorm, eps);
    return tf.add(h, mlp);
  }

  private attention(
    x: tf.Tensor2D,
    w: LayerWeights,
    layer: number,
    batch: number,
    tokens: number,
    cos: tf.Tensor3D,
    sin: tf.Tensor3D,
    mask: AttentionMask,
    cache: KVCache,
  ): tf.Tensor2D {
    const { numHeads: H, numKvHeads: KV, headDim: hd, attentionScale, attnLogitSoftcap } = this.config;
    const groupSize = H / KV; // query heads sharing one key/value head (grouped-query attention)
    const n = batch * tokens;

    // Queries, rotated and scaled, gathered per (row, kv head): [B·KV, groupSize·T, hd].
    const q = applyRotary(linear(x, w.q).reshape([n, H, hd]), cos, sin, this.rotateHalf)
      .mul(attentionScale)
      .reshape([batch, tokens, KV, groupSize, hd])
      .transpose([0, 2, 3, 1, 4])
      .reshape([batch * KV, groupSize * tokens, hd]) as tf.Tensor3D;
    // New keys (rotated, transposed) and values join the cache.
    const k = applyRotary(linear(x, w.k).reshape([n, KV, hd]), cos, sin, this.rotateHalf);
    const v = linear(x, w.v);
    cache.append(
      layer,
      k
        .reshape([batch, tokens, KV, hd])
        .transpose([0, 2, 3, 1])
        .reshape([batch * KV, hd, tokens]),
      v
        .reshape([batch, tokens, KV, hd])
        .transpose([0, 2, 1, 3])
        .reshape([batch * KV, tokens, hd]),
    );
    const keysT = cache.keysT[layer]!,
      values = cache.values[layer]!;

    const softcap = (s: tf.Tensor) =>
      attnLogitSoftcap === null ? s : tf.tanh(s.div(attnLogitSoftcap)).mul(attnLogitSoftcap);
    let context: tf.Tensor3D;
    if (tokens <= BATCHED_ATTENTION_MAX_TOKENS || this.batchedScoresFit(batch, tokens, cache.length)) {
      // Decode: all groups in one batched matmul (small operands, so few kernel launches win).
      const scores = softcap(tf.matMul(q, keysT)).reshape([batch, H, tokens, cache.length]);
      const probs = tf.softmax(tf.add(scores, mask.all)).reshape([batch * KV, groupSize * tokens, cache.length]);
      context = tf.matMul(probs, values) as tf.Tensor3D;
    } else {
      // Prefill: one 2-D matmul pair per group — tfjs-wasm's fast path — and the big score tensor is never split.
      const [qs, ks, vs] = [blocks(q), blocks(keysT), blocks(values)];
      context = tf.stack(
        qs.map((qg, g) => {
          const scores = softcap(tf.matMul(qg, ks[g])).reshape([groupSize, tokens, cache.length]);
          const probs = tf.softmax(tf.add(scores, mask.rows[Math.floor(g / KV)]));
          return tf.matMul(probs.reshape([groupSize * tokens, cache.length]), vs[g]);
        }),
      ) as tf.Tensor3D;
    }
    const merged = context
      .reshape([batch, H, tokens, hd])
      .transpose([0, 2, 1, 3])
      .reshape([n, H * hd]) as tf.Tensor2D;
    return linear(merged, w.o);
  }

  /**
   * On WebGPU every step takes the batched attention (one kernel per matmul) when its score tensor fits one
   * storage binding; tfjs-wasm and cpu keep the per-group prefill, their fast path.
   */
  private batchedScoresFit(batch: number, tokens: number, keys: number): boolean {
    const limit = this.backend.maxBindingBytes;
    return Number.isFinite(limit) && 4 * batch * this.config.numHeads * tokens * keys <= limit;
  }

  private mlp(x: tf.Tensor2D, w: LayerWeights): tf.Tensor2D {
    const gate = linear(x, w.gate);
    const act = this.config.activation === 'silu' ? tf.mul(gate, tf.sigmoid(gate)) : geluTanh(gate);
    return linear(tf.mul(act, linear(x, w.up)) as tf.Tensor2D, w.down);
  }

  private lmHead(x: tf.Tensor2D): tf.Tensor2D {
    const logits = linear(x, this.weights.lmHead);
    const cap = this.config.finalLogitSoftcap;
    return cap === null ? logits : (tf.tanh(logits.div(cap)).mul(cap) as tf.Tensor2D);
  }

  /** Frees the backend memory of the weights. */
  dispose(): void {
    this.rotateHalf.dispose();
    disposeWeights(this.weights);
  }
}

/**
 * Splits [n, r, c] into n matrices [r, c]. On the wasm and cpu backends the data already sits in this
 * process's memory, and copying the blocks out in JS is ~10× faster than tfjs-wasm's split kernel.
 */
function blocks(x: tf.Tensor): tf.Tensor2D[] {
  const [n, r, c] = x.shape;
  if (tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu') {
    const data = x.dataSync() as Float32Array;
    return Array.from({ length: n }, (_, i) => tf.tensor2d(data.subarray(i * r * c, (i + 1) * r * c), [r, c]));
  }
  return tf.split(x, n, 0).map((b) => b.reshape([r, c]) as tf.Tensor2D);
}

/** x·W (+ b); W may be split in output-column blocks (see weights.ts), whose products are joined. */
function linear(x: tf.Tensor2D, l: Linear): tf.Tensor2D {
  const y =
    l.blocks.length === 1
      ? tf.matMul(x, l.blocks[0])
      : tf.concat(
          l.blocks.map((w) => tf.matMul(x, w)),
          1,
        );
  return (l.bias ? tf.add(y, l.bias) : y) as tf.Tensor2D;
}

/** RMSNorm: x / sqrt(mean(x²) + eps) · w (Gemma-2's 1 + w is folded into w at load). */
function rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w) as tf.Tensor2D;
}

/** GELU with the tanh approximation (PyTorch's `gelu(approximate="tanh")`). */
function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

function lastOfEachRow(h: tf.Tensor2D, batch: number, tokens: number): tf.Tensor2D {
  const d = h.shape[1];
  return h
    .reshape([batch, tokens, d])
    .slice([0, tokens - 1, 0], [batch, 1, d])
    .reshape([batch, d]);
}

/**
 * Additive attention mask: query t (cache slot past + t) sees slot s when s ≤ past + t, the slot holds a real
 * token, and — for sliding-window layers — past + t − s < window (transformers' convention).
 */
function attentionMask(valid: Uint8Array[], past: number, tokens: number, window: number | null): AttentionMask {
  const S = past + tokens;
  const m = new Float32Array(valid.length * tokens * S).fill(MASKED);
  valid.forEach((row, b) => {
    for (let t = 0; t < tokens; t++) {
      const q = past + t;
      const from = window === null ? 0 : Math.max(0, q - window + 1);
      for (let s = from; s <= q; s++) if (row[s]) m[(b * tokens + t) * S + s] = 0;
    }
  });
  return {
    all: tf.tensor4d(m, [valid.length, 1, tokens, S]),
    rows: valid.map((_, b) => tf.tensor3d(m.subarray(b * tokens * S, (b + 1) * tokens * S), [1, tokens, S])),
  };
}
