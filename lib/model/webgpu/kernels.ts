// The decoder's operations on our own WebGPU kernels (shaders.ts): weights resident in the model's dtype,
// activations in buffers allocated once for the largest step seen and reused every step (the residual stream
// updated in place), the KV cache preallocated per cache and written in place, every dispatch recorded into
// one compute pass per step. Fused (the default): five dispatches per Llama block (norm + q/k/v + RoPE + cache
// write; attention; o_proj + residual add; norm + gate/up + gating; down_proj + residual add), seven for
// Gemma-2 (its post-norms need the whole row); unfused: every piece alone, the same arithmetic.
import type * as tf from '@tensorflow/tfjs';
import { InputError } from '../../errors.ts';
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
import { inverseFrequencies } from '../rope.ts';
import type { Gpu, GpuBuffer } from './gpu.ts';
import {
  addShader,
  attentionShader,
  type Epilogue,
  LINEAR_COLS,
  LINEAR_GEMV_ROWS,
  LINEAR_TILE_ROWS,
  type LinearInput,
  type LinearSpec,
  linearShader,
  type ModelShape,
  pairsShader,
  rmsnormShader,
  SAMPLE_PARAM_WORDS,
  samplerShader,
  stepLayout,
} from './shaders.ts';
import { type GpuBlock, type GpuLinear, type GpuWeights, weightBuffers } from './weights.ts';

/** The activation buffers, by what they hold. */
type Role = 'h' | 'x' | 'qkv' | 'q' | 'z' | 'y' | 'yn' | 'gu' | 'hidden';
export interface GpuAct {
  role: Role;
}

/**
 * Per layer, one buffer: keys [slots, capacity, n_kv, head_dim], then values likewise; and each slot's seen
 * tokens as a bitmap (the repetition penalty's set), made at the first sampling.
 */
interface CacheStore {
  kv: GpuBuffer[];
  seen: GpuBuffer | null;
  /** Per slot: the cache's reset count and the tokens the seen set holds, as of the last sampling. */
  epochs: Float64Array;
  marked: Int32Array;
}

/**
 * The fewest rows a step's linears take in 32-row tiles by default: none, the 4-row GEMV everywhere. On an NVIDIA
 * H200 the tile (from 16 rows, before its norm prologue was parallelised) was slower than the GEMV: Llama-3.1-8B bf16
 * prefill 103 tok/s against 158, batch-32 decode 165 against 218.5 (bench/forward/gpu/results-h200.txt). It stays
 * off until a GPU run shows it faster (`bench/forward/sizes.ts --tiled-from 16` times it).
 */
const TILED_FROM_ROWS = Number.POSITIVE_INFINITY;

export class WebgpuKernels implements Kernels<GpuAct> {
  readonly weightBytes: number;
  private readonly shape: Omit<ModelShape, 'mcap'>;
  private mcap = 0;
  private bufs = new Map<Role | 'step' | 'logits' | 'params' | 'picks', GpuBuffer>();
  private logitRows = 0;
  private rope: GpuBuffer | null = null;
  private ropePositions = 0;
  private readonly invFreq: Float64Array;
  private readonly caches = new WeakMap<KVCache, CacheStore>();
  private groups = new Map<string, GPUBindGroup>();
  /** The step being run: its token and row counts. */
  private tokens = 0;
  private rows = 0;

  constructor(
    private readonly gpu: Gpu,
    private readonly cfg: ModelConfig,
    private readonly w: GpuWeights,
    readonly dtype: WeightDtype,
    private readonly o: { fuse: boolean; maxBindingBytes: number; tiledFrom?: number },
  ) {
    this.shape = {
      hidden: cfg.hiddenSize,
      heads: cfg.numHeads,
      kvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      eps: cfg.rmsNormEps,
    };
    this.invFreq = inverseFrequencies(cfg.rope, cfg.headDim);
    this.weightBytes = weightBuffers(w).reduce((a, b) => a + b.bytes, 0);
  }

  private get model(): ModelShape {
    return { ...this.shape, mcap: this.mcap };
  }

  private buf(role: Role | 'step' | 'logits' | 'params' | 'picks'): GpuBuffer {
    return this.bufs.get(role)!;
  }

  /** Activation buffers for steps of up to `tokens` tokens (grown to a power of two; bind groups rebuilt then). */
  private ensure(tokens: number): void {
    if (tokens <= this.mcap) return;
    for (const b of this.bufs.values()) this.gpu.free(b);
    this.bufs.clear();
    this.groups.clear();
    this.logitRows = 0;
    this.mcap = 2 ** Math.ceil(Math.log2(Math.max(16, tokens)));
    const { hiddenSize: d, numHeads: H, numKvHeads: KV, headDim: hd, intermediateSize: ff } = this.cfg;
    const widths: Record<Role, number> = {
      h: d,
      x: d,
      qkv: (H + 2 * KV) * hd,
      q: H * hd,
      z: H * hd,
      y: d,
      yn: d,
      gu: 2 * ff,
      hidden: ff,
    };
    for (const [role, width] of Object.entries(widths) as [Role, number][])
      this.bufs.set(role, this.gpu.buffer(4 * this.mcap * width, role));
    this.bufs.set('step', this.gpu.buffer(4 * stepLayout(this.mcap).words, 'step'));
  }

  /** The rotary table [positions, head_dim/2, (cos, sin)] for positions below `n`, as the CPU kernels compute it. */
  private ensureRope(n: number): void {
    if (n <= this.ropePositions) return;
    if (this.rope) this.gpu.free(this.rope);
    this.groups.clear();
    this.ropePositions = 2 ** Math.ceil(Math.log2(Math.max(64, n)));
    const half = this.invFreq.length;
    const t = new Float32Array(this.ropePositions * half * 2);
    for (let p = 0; p < this.ropePositions; p++)
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(Math.fround(this.invFreq[i]) * p);
        t[(p * half + i) * 2] = Math.cos(angle);
        t[(p * half + i) * 2 + 1] = Math.sin(angle);
      }
    this.rope = this.gpu.upload(t, 'rope');
  }

  private pipelineOf(code: string): GPUComputePipeline {
    return this.gpu.pipeline(code);
  }

  /** Runs a shader with its named buffers, the bind group made once per (shader, buffers). */
  private run(code: string, bindings: string[], named: Record<string, GpuBuffer>, x: number, y = 1): void {
    const pipeline = this.pipelineOf(code);
    const buffers = bindings.map((b) => {
      const buf = named[b];
      if (!buf) throw new Error(`kernel binding ${b} has no buffer`);
      return buf;
    });
    const key = `${code.length}:${hash(code)}:${buffers.map((b) => b.id).join(',')}`;
    let group = this.groups.get(key);
    if (!group) {
      group = this.gpu.bindGroup(pipeline, buffers);
      this.groups.set(key, group);
    }
    this.gpu.dispatch(pipeline, group, x, y);
  }

  /** One linear, block by block: input rows → epilogue. */
  private linear(
    lin: GpuLinear,
    input: LinearInput,
    source: GpuBuffer,
    epilogue: Epilogue,
    outs: Record<string, GpuBuffer>,
    extra: { norm?: GpuBuffer; gather?: boolean } = {},
  ): void {
    const rows = extra.gather ? this.rows : this.tokens;
    // many rows: each weight read once per 32 rows; the outputs are the GEMV's bits either way
    const tileRows = rows >= (this.o.tiledFrom ?? TILED_FROM_ROWS) ? LINEAR_TILE_ROWS : LINEAR_GEMV_ROWS;
    for (const block of lin.blocks) {
      const spec = this.specOf(lin, block, input, epilogue, extra.gather ?? false, tileRows);
      const { code, bindings } = linearShader(spec, this.model);
      this.run(
        code,
        bindings,
        {
          step: this.buf('step'),
          input: source,
          w: block.w,
          ...(block.scales ? { scales: block.scales } : {}),
          ...(block.bias ? { bias: block.bias } : {}),
          ...(extra.norm ? { norm: extra.norm } : {}),
          ...outs,
        },
        Math.ceil(rows / tileRows),
        Math.ceil(block.rows / LINEAR_COLS),
      );
    }
  }

  private specOf(
    lin: GpuLinear,
    block: GpuBlock,
    input: LinearInput,
    epilogue: Epilogue,
    gather: boolean,
    tileRows = LINEAR_GEMV_ROWS,
  ): LinearSpec {
    return {
      K: lin.in,
      N: block.rows,
      col0: block.row0,
      dtype: lin.dtype,
      scale: block.scales ? 'row' : null,
      bias: block.bias !== null,
      input,
      gather,
      epilogue,
      tileRows,
    };
  }

  embed(step: Step): GpuAct {
    const { hiddenSize: d, vocabSize } = this.cfg;
    // A pass that ended without logits (capture at a hook point inside a block) may leave work recorded but not
    // submitted; it must run before this step's writes, which reach the queue at once.
    this.gpu.flush();
    this.ensure(step.tokens);
    this.tokens = step.tokens;
    this.rows = step.slots.length;
    const L = stepLayout(this.mcap);
    const info = new Uint32Array(L.words);
    info[0] = step.tokens;
    info[1] = this.rows;
    step.slots.forEach((slot, r) => {
      for (let t = step.offsets[r]; t < step.offsets[r + 1]; t++) {
        info[L.slot + t] = slot;
        info[L.pos + t] = step.starts[r] + t - step.offsets[r];
      }
      info[L.last + r] = step.offsets[r + 1] - 1;
    });
    this.stepInfo = info;
    const h = new Float32Array(step.tokens * d);
    // Gemma-2 scales embeddings by √d, computed in f32 as transformers does for f32 weights.
    const scale = this.cfg.scaleEmbeddings ? Math.fround(Math.sqrt(d)) : 1;
    step.ids.forEach((id, i) => {
      if (!(id >= 0 && id < vocabSize))
        throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
      const row = this.w.embed.subarray(id * d, (id + 1) * d);
      if (scale === 1) h.set(row, i * d);
      else for (let j = 0; j < d; j++) h[i * d + j] = row[j] * scale;
    });
    this.gpu.write(this.buf('h'), h);
    return { role: 'h' };
  }

  /** The step's token info; the cache capacity goes in when a kernel reads the cache. */
  private stepInfo = new Uint32Array(0);

  private writeStep(cache: KVCache): void {
    this.stepInfo[2] = cache.capacity;
    this.stepInfo[3] = cache.slots * cache.capacity * this.cfg.numKvHeads * this.cfg.headDim;
    this.gpu.write(this.buf('step'), this.stepInfo);
  }

  async queries(h: GpuAct, layer: number, step: Step, cache: KVCache): Promise<GpuAct> {
    const l = this.w.layers[layer];
    const store = this.store(cache);
    this.ensureRope(cache.capacity);
    this.writeStep(cache);
    const outs = { q: this.buf('q'), kv: store.kv[layer], rope: this.rope! };
    const epilogue: Epilogue = { kind: 'qkv', scale: this.cfg.attentionScale };
    if (this.o.fuse) this.linear(l.qkv, 'norm', this.buf(h.role), epilogue, outs, { norm: l.inputNorm });
    else {
      this.norm(this.buf(h.role), l.inputNorm, this.buf('x'), 'store');
      const width = l.qkv.out;
      this.linear(l.qkv, 'x', this.buf('x'), { kind: 'store', width, softcap: null }, { out: this.buf('qkv') });
      this.pairs(l.qkv, epilogue, this.buf('qkv'), outs);
    }
    void step;
    return { role: 'q' };
  }

  async attend(q: GpuAct, layer: number, _step: Step, cache: KVCache): Promise<GpuAct> {
    const store = this.store(cache);
    const code = attentionShader(this.model, this.cfg.slidingWindow[layer], this.cfg.attnLogitSoftcap);
    this.run(
      code,
      ['step', 'q', 'kv', 'z'],
      { step: this.buf('step'), q: this.buf(q.role), kv: store.kv[layer], z: this.buf('z') },
      this.tokens,
      this.cfg.numHeads,
    );
    return { role: 'z' };
  }

  mlpHidden(h: GpuAct, layer: number): GpuAct {
    const l = this.w.layers[layer];
    const epilogue: Epilogue = { kind: 'gate', act: this.cfg.activation, width: this.cfg.intermediateSize };
    if (this.o.fuse)
      this.linear(l.gateUp, 'norm', this.buf(h.role), epilogue, { out: this.buf('hidden') }, { norm: l.preMlpNorm });
    else {
      this.norm(this.buf(h.role), l.preMlpNorm, this.buf('x'), 'store');
      this.linear(
        l.gateUp,
        'x',
        this.buf('x'),
        { kind: 'store', width: l.gateUp.out, softcap: null },
        { out: this.buf('gu') },
      );
      this.pairs(l.gateUp, epilogue, this.buf('gu'), { out: this.buf('hidden') });
    }
    return { role: 'hidden' };
  }

  private sublayer(layer: number, which: Projection): { lin: GpuLinear; post: GpuBuffer | null } {
    const l = this.w.layers[layer];
    return which === 'attn' ? { lin: l.o, post: l.postAttnNorm } : { lin: l.down, post: l.postMlpNorm };
  }

  project(x: GpuAct, layer: number, which: Projection): GpuAct {
    const { lin, post } = this.sublayer(layer, which);
    this.linear(lin, 'x', this.buf(x.role), { kind: 'store', width: lin.out, softcap: null }, { out: this.buf('y') });
    if (!post) return { role: 'y' };
    this.norm(this.buf('y'), post, this.buf('yn'), 'store');
    return { role: 'yn' };
  }

  add(h: GpuAct, y: GpuAct): GpuAct {
    const width = this.cfg.hiddenSize;
    const n = Math.ceil((this.tokens * width) / 256);
    this.run(
      addShader(width),
      ['step', 'y', 'h'],
      { step: this.buf('step'), y: this.buf(y.role), h: this.buf(h.role) },
      Math.min(n, 65535),
      Math.ceil(n / 65535),
    );
    return h;
  }

  residual(h: GpuAct, x: GpuAct, layer: number, which: Projection): GpuAct {
    const { lin, post } = this.sublayer(layer, which);
    if (post) {
      // Gemma-2: h += rmsnorm(x·W)·w needs the whole output row: the projection, then norm + add.
      this.linear(lin, 'x', this.buf(x.role), { kind: 'store', width: lin.out, softcap: null }, { out: this.buf('y') });
      this.norm(this.buf('y'), post, this.buf(h.role), 'addInto');
      return h;
    }
    if (this.o.fuse) this.linear(lin, 'x', this.buf(x.role), { kind: 'residual' }, { h: this.buf(h.role) });
    else this.add(h, this.project(x, layer, which));
    return h;
  }

  logits(h: GpuAct, rows: Int32Array | null): tf.Tensor2D {
    const n = this.logitsOnDevice(h, rows !== null);
    return this.gpu.toTensor(this.buf('logits'), 0, n, this.cfg.vocabSize);
  }

  /** Final norm, lm_head and soft-cap into the logits buffer, for each row's last token or every token. */
  private logitsOnDevice(h: GpuAct, lastOnly: boolean): number {
    const V = this.cfg.vocabSize;
    const n = lastOnly ? this.rows : this.tokens;
    if (n > this.logitRows) {
      if (this.bufs.has('logits')) this.gpu.free(this.buf('logits'));
      this.groups.clear();
      this.logitRows = Math.max(n, this.mcap);
      this.bufs.set('logits', this.gpu.buffer(4 * this.logitRows * V, 'logits'));
    }
    this.gpu.write(this.buf('step'), this.stepInfo);
    const epilogue: Epilogue = { kind: 'store', width: V, softcap: this.cfg.finalLogitSoftcap };
    this.linear(
      this.w.lmHead,
      'norm',
      this.buf(h.role),
      epilogue,
      { out: this.buf('logits') },
      {
        norm: this.w.finalNorm,
        gather: lastOnly,
      },
    );
    return n;
  }

  async sample(h: GpuAct, _last: Int32Array, step: Step, cache: KVCache, choices: TokenChoice[]): Promise<Int32Array> {
    const V = this.cfg.vocabSize;
    const R = this.rows;
    this.logitsOnDevice(h, true);
    const store = this.store(cache);
    store.seen ??= this.gpu.buffer(4 * cache.slots * Math.ceil(V / 32), 'seen tokens');
    const params = this.samplerParams(step, cache, store, choices);
    this.grow('params', params.byteLength);
    this.grow('picks', 8 * R);
    this.gpu.write(this.buf('params'), params);
    this.run(
      samplerShader(this.model, V),
      ['step', 'logits', 'params', 'seen', 'out'],
      {
        step: this.buf('step'),
        logits: this.buf('logits'),
        params: this.buf('params'),
        seen: store.seen,
        out: this.buf('picks'),
      },
      R,
    );
    const picks = new Uint32Array(await this.gpu.read(this.buf('picks'), 0, 8 * R));
    const tokens = new Int32Array(R);
    for (let r = 0; r < R; r++) {
      if (picks[2 * r + 1] === 0) tokens[r] = picks[2 * r];
      else {
        // Past what the device ranks: the row's logits back to JS, the same rule there.
        const row = new Float32Array(await this.gpu.read(this.buf('logits'), 4 * r * V, 4 * V));
        tokens[r] = pickToken(row, cache.sequence(step.slots[r]), choices[r]);
      }
    }
    return tokens;
  }

  /**
   * The sampler's parameters: each row's settings, and the tokens its slot gained since the device's seen set
   * last saw it (all of them, after a clear, when the slot holds a new sequence).
   */
  private samplerParams(step: Step, cache: KVCache, store: CacheStore, choices: TokenChoice[]): Uint32Array {
    const R = choices.length;
    const marks: Int32Array[] = [];
    const head = new Uint32Array(R * SAMPLE_PARAM_WORDS);
    const f32 = new Float32Array(1);
    const bits = (x: number) => {
      f32[0] = x;
      return new Uint32Array(f32.buffer)[0];
    };
    let at = R * SAMPLE_PARAM_WORDS;
    choices.forEach(({ opts, u }, r) => {
      const slot = step.slots[r];
      const fresh = store.epochs[slot] !== cache.resets[slot];
      const seq = cache.sequence(slot);
      const added = seq.subarray(fresh ? 0 : store.marked[slot]);
      store.epochs[slot] = cache.resets[slot];
      store.marked[slot] = seq.length;
      head.set(
        [
          bits(opts.temperature),
          opts.topK,
          bits(opts.topP),
          bits(opts.repetitionPenalty),
          bits(u),
          fresh ? 1 : 0,
          at,
          added.length,
        ],
        r * SAMPLE_PARAM_WORDS,
      );
      marks.push(added);
      at += added.length;
    });
    const out = new Uint32Array(at);
    out.set(head);
    let o = R * SAMPLE_PARAM_WORDS;
    for (const m of marks) {
      out.set(m, o);
      o += m.length;
    }
    return out;
  }

  /** The named buffer, at least `bytes` long (grown to a power of two; bind groups rebuilt then). */
  private grow(name: 'params' | 'picks', bytes: number): void {
    const b = this.bufs.get(name);
    if (b && b.bytes >= bytes) return;
    if (b) this.gpu.free(b);
    this.groups.clear();
    this.bufs.set(name, this.gpu.buffer(2 ** Math.ceil(Math.log2(Math.max(64, bytes))), name));
  }

  private norm(src: GpuBuffer, weight: GpuBuffer, out: GpuBuffer, mode: 'store' | 'addInto'): void {
    this.run(
      rmsnormShader(this.model, this.cfg.hiddenSize, mode),
      ['step', 'input', 'norm', 'out'],
      { step: this.buf('step'), input: src, norm: weight, out },
      this.tokens,
    );
  }

  private pairs(lin: GpuLinear, epilogue: Epilogue, src: GpuBuffer, outs: Record<string, GpuBuffer>): void {
    const spec = this.specOf(lin, { ...lin.blocks[0], rows: lin.out, row0: 0 }, 'x', epilogue, false);
    const { code, bindings } = pairsShader({ ...spec, N: lin.out }, this.model);
    this.run(code, bindings, { step: this.buf('step'), src, ...outs }, Math.ceil(lin.out / 2 / 256), this.tokens);
  }

  toTensor(a: GpuAct): tf.Tensor2D {
    const width = this.widthOf(a.role);
    return this.gpu.toTensor(this.buf(a.role), 0, this.tokens, width);
  }

  fromTensor(t: tf.Tensor2D, into: GpuAct): GpuAct {
    this.gpu.fromTensor(t, this.buf(into.role), 0);
    return into;
  }

  private widthOf(role: Role): number {
    return this.buf(role).bytes / 4 / this.mcap;
  }

  free(): void {}

  usage(): DeviceUsage {
    return { bytes: this.gpu.bytes(), peakBytes: this.gpu.peakBytes(), dispatches: this.gpu.dispatches };
  }

  resetUsage(): void {
    this.gpu.resetPeak();
    this.gpu.dispatches = 0;
  }

  allocateCache(cache: KVCache): void {
    const { numKvHeads: KV, headDim: hd, numLayers } = this.cfg;
    const bytes = 2 * 4 * cache.slots * cache.capacity * KV * hd;
    if (bytes > this.o.maxBindingBytes)
      throw new InputError(
        `a KV cache of ${cache.slots} sequences × ${cache.capacity} positions needs ${bytes} bytes per layer, more than one buffer of this GPU binds (${this.o.maxBindingBytes}): lower the batch size or the number of new tokens`,
      );
    this.caches.set(cache, {
      kv: Array.from({ length: numLayers }, (_, l) => this.gpu.buffer(bytes, `KV cache ${l}`)),
      seen: null,
      epochs: new Float64Array(cache.slots).fill(-1),
      marked: new Int32Array(cache.slots),
    });
  }

  releaseCache(cache: KVCache): void {
    const s = this.caches.get(cache);
    if (!s) return;
    for (const b of [...s.kv, ...(s.seen ? [s.seen] : [])]) this.gpu.free(b);
    this.caches.delete(cache);
    this.groups.clear();
  }

  private store(cache: KVCache): CacheStore {
    const s = this.caches.get(cache);
    if (!s) throw new Error('KV cache not allocated by this model');
    return s;
  }

  dispose(): void {
    for (const b of weightBuffers(this.w)) this.gpu.free(b);
    for (const b of this.bufs.values()) this.gpu.free(b);
    if (this.rope) this.gpu.free(this.rope);
    this.bufs.clear();
    this.groups.clear();
  }
}

/** A short hash of a shader's text (bind group cache keys). */
function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}
