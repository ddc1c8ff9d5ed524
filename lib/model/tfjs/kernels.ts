// The decoder's operations as tfjs ops, for the CPU backends (wasm, cpu, tfjs-node, tfjs-node-gpu): weights
// as f32 tensors [in, out] (tfjs-wasm's fast matmul path), activations as tensors, the KV cache in JS memory
// (see attention.ts). Every op treats rows independently: tfjs-wasm's matmul gives each row the same bits
// whatever the number of rows (checked by test/model/batching.test.ts), norms reduce within a row, and
// attention runs per row over the row's own cache slot.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config.ts';
import {
  type DeviceUsage,
  type Kernels,
  pickToken,
  type Projection,
  type TokenChoice,
  type WeightDtype,
} from '../kernels.ts';
import type { KVCache, Step } from '../kvcache.ts';
import { applyRotary, inverseFrequencies, rotaryTables, rotateHalfMatrix } from '../rope.ts';
import { disposeWeights, type LayerWeights, type Linear, type ModelWeights } from './weights.ts';
import { attendLoops, attendMatmul, LOOP_MAX_TOKENS } from './attention.ts';

/** Keys and values of every layer: [layer][slot] → [capacity, n_kv·head_dim]. */
interface CacheStore {
  keys: Float32Array[][];
  values: Float32Array[][];
}

export class TfjsKernels implements Kernels<tf.Tensor2D> {
  private readonly invFreq: Float64Array;
  private readonly rotateHalf: tf.Tensor2D;
  private readonly caches = new WeakMap<KVCache, CacheStore>();
  readonly weightBytes: number;

  constructor(
    private readonly cfg: ModelConfig,
    private readonly w: ModelWeights,
    readonly dtype: WeightDtype,
  ) {
    this.invFreq = inverseFrequencies(cfg.rope, cfg.headDim);
    this.rotateHalf = rotateHalfMatrix(cfg.headDim);
    this.weightBytes = tensorBytes(w);
  }

  embed(step: Step): tf.Tensor2D {
    const { hiddenSize: d, vocabSize } = this.cfg;
    const out = new Float32Array(step.tokens * d);
    // Gemma-2 scales embeddings by √d, computed in the weights' dtype (f32 here) as transformers does.
    const scale = this.cfg.scaleEmbeddings ? Math.fround(Math.sqrt(d)) : 1;
    step.ids.forEach((id, i) => {
      if (!(id >= 0 && id < vocabSize))
        throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
      const row = this.w.embed.subarray(id * d, (id + 1) * d);
      if (scale === 1) out.set(row, i * d);
      else for (let j = 0; j < d; j++) out[i * d + j] = row[j] * scale;
    });
    return tf.tensor2d(out, [step.tokens, d]);
  }

  async queries(h: tf.Tensor2D, layer: number, step: Step, cache: KVCache): Promise<tf.Tensor2D> {
    const { numHeads: H, numKvHeads: KV, headDim: hd, attentionScale, rmsNormEps } = this.cfg;
    const w = this.w.layers[layer];
    const M = step.tokens;
    const { cos, sin } = rotaryTables(this.invFreq, positions(step));
    try {
      const [q, k, v] = tf.tidy(() => {
        const x = rmsNorm(h, w.inputNorm, rmsNormEps);
        const rot = (y: tf.Tensor2D, heads: number) =>
          applyRotary(y.reshape([M, heads, hd]), cos, sin, this.rotateHalf).reshape([M, heads * hd]);
        return [rot(linear(x, w.q), H).mul(attentionScale), rot(linear(x, w.k), KV), linear(x, w.v)];
      });
      const store = this.store(cache);
      const [kd, vd] = (await Promise.all([k.data(), v.data()])) as Float32Array[];
      k.dispose();
      v.dispose();
      const width = KV * hd;
      step.slots.forEach((slot, r) => {
        const from = step.offsets[r] * width,
          to = step.offsets[r + 1] * width,
          at = step.starts[r] * width;
        store.keys[layer][slot].set(kd.subarray(from, to), at);
        store.values[layer][slot].set(vd.subarray(from, to), at);
      });
      return q as tf.Tensor2D;
    } finally {
      cos.dispose();
      sin.dispose();
    }
  }

  async attend(q: tf.Tensor2D, layer: number, step: Step, cache: KVCache): Promise<tf.Tensor2D> {
    const { numHeads: H, headDim: hd } = this.cfg;
    const width = H * hd;
    const qd = (await q.data()) as Float32Array;
    const z = new Float32Array(step.tokens * width);
    const store = this.store(cache);
    for (const [r, slot] of step.slots.entries()) {
      const [from, to] = [step.offsets[r] * width, step.offsets[r + 1] * width];
      const row = {
        q: qd.subarray(from, to),
        keys: store.keys[layer][slot],
        values: store.values[layer][slot],
        start: step.starts[r],
        tokens: step.counts[r],
        window: this.cfg.slidingWindow[layer],
      };
      if (row.tokens <= LOOP_MAX_TOKENS) attendLoops(this.cfg, row, z.subarray(from, to));
      else await attendMatmul(this.cfg, row, z.subarray(from, to));
    }
    return tf.tensor2d(z, [step.tokens, width]);
  }

  mlpHidden(h: tf.Tensor2D, layer: number): tf.Tensor2D {
    const w = this.w.layers[layer];
    return tf.tidy(() => {
      const x = rmsNorm(h, w.preMlpNorm, this.cfg.rmsNormEps);
      const gate = linear(x, w.gate);
      const act = this.cfg.activation === 'silu' ? tf.mul(gate, tf.sigmoid(gate)) : geluTanh(gate);
      return tf.mul(act, linear(x, w.up)) as tf.Tensor2D;
    });
  }

  project(x: tf.Tensor2D, layer: number, which: Projection): tf.Tensor2D {
    const w = this.w.layers[layer];
    const [W, post] = which === 'attn' ? [w.o, w.postAttnNorm] : [w.down, w.postMlpNorm];
    return tf.tidy(() => {
      const y = linear(x, W);
      return post ? rmsNorm(y, post, this.cfg.rmsNormEps) : y;
    });
  }

  add(h: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    return tf.add(h, y);
  }

  residual(h: tf.Tensor2D, x: tf.Tensor2D, layer: number, which: Projection): tf.Tensor2D {
    return tf.tidy(() => tf.add(h, this.project(x, layer, which)));
  }

  logits(h: tf.Tensor2D, rows: Int32Array | null): tf.Tensor2D {
    const cap = this.cfg.finalLogitSoftcap;
    return tf.tidy(() => {
      const x = rows ? tf.gather(h, tf.tensor1d(rows, 'int32')) : h;
      const logits = linear(rmsNorm(x, this.w.finalNorm, this.cfg.rmsNormEps), this.w.lmHead);
      return cap === null ? logits : (tf.tanh(logits.div(cap)).mul(cap) as tf.Tensor2D);
    });
  }

  async sample(
    h: tf.Tensor2D,
    last: Int32Array,
    step: Step,
    cache: KVCache,
    choices: TokenChoice[],
  ): Promise<Int32Array> {
    const logits = this.logits(h, last);
    const all = (await logits.data()) as Float32Array;
    logits.dispose();
    const V = this.cfg.vocabSize;
    return Int32Array.from(choices, (c, r) =>
      pickToken(all.subarray(r * V, (r + 1) * V), cache.sequence(step.slots[r]), c),
    );
  }

  toTensor(a: tf.Tensor2D): tf.Tensor2D {
    return a.clone();
  }

  fromTensor(t: tf.Tensor2D, into: tf.Tensor2D): tf.Tensor2D {
    into.dispose();
    return t.clone();
  }

  free(a: tf.Tensor2D): void {
    this.peak = Math.max(this.peak, this.bytesNow());
    a.dispose();
  }

  /** KV caches in JS memory (bytes per live cache) and the bytes' peak, for usage(). */
  private cacheBytes = new Map<KVCache, number>();
  private peak = 0;

  private bytesNow(): number {
    let caches = 0;
    for (const b of this.cacheBytes.values()) caches += b;
    return tf.memory().numBytes + caches;
  }

  usage(): DeviceUsage {
    const bytes = this.bytesNow();
    this.peak = Math.max(this.peak, bytes);
    return { bytes, peakBytes: this.peak, dispatches: null };
  }

  resetUsage(): void {
    this.peak = this.bytesNow();
  }

  allocateCache(cache: KVCache): void {
    const width = this.cfg.numKvHeads * this.cfg.headDim;
    const make = () =>
      Array.from({ length: this.cfg.numLayers }, () =>
        Array.from({ length: cache.slots }, () => new Float32Array(cache.capacity * width)),
      );
    this.caches.set(cache, { keys: make(), values: make() });
    this.cacheBytes.set(cache, 2 * 4 * this.cfg.numLayers * cache.slots * cache.capacity * width);
  }

  releaseCache(cache: KVCache): void {
    this.caches.delete(cache);
    this.cacheBytes.delete(cache);
  }

  private store(cache: KVCache): CacheStore {
    const s = this.caches.get(cache);
    if (!s) throw new Error('KV cache not allocated by this model');
    return s;
  }

  dispose(): void {
    this.rotateHalf.dispose();
    disposeWeights(this.w);
  }
}

/** Position of every packed token: its row's start plus its index in the row. */
export function positions(step: Step): Int32Array {
  const pos = new Int32Array(step.tokens);
  step.slots.forEach((_, r) => {
    for (let t = 0; t < step.counts[r]; t++) pos[step.offsets[r] + t] = step.starts[r] + t;
  });
  return pos;
}

function tensorBytes(w: ModelWeights): number {
  const linearBytes = (l: Linear) => [...l.blocks, ...(l.bias ? [l.bias] : [])].reduce((a, t) => a + 4 * t.size, 0);
  const layer = (l: LayerWeights) =>
    [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce((a, x) => a + linearBytes(x), 0) +
    [l.inputNorm, l.postAttnNorm, l.preMlpNorm, l.postMlpNorm].reduce((a, t) => a + 4 * (t?.size ?? 0), 0);
  return w.layers.reduce((a, l) => a + layer(l), 0) + linearBytes(w.lmHead) + 4 * w.finalNorm.size;
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
