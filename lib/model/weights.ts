import * as tf from '@tensorflow/tfjs';
import { firstNonFinite, nonFiniteName } from '../io/dtype.ts';
import { InputError } from '../errors.ts';
import { openSafetensors, type TensorSource } from '../io/safetensors.ts';
import type { Backend } from '../backend.ts';
import type { LoraAdapter } from './adapter.ts';
import type { ModelConfig } from './config.ts';

/**
 * A linear map stored as [in, out] (torch keeps [out, in]): tfjs-wasm multiplies untransposed operands far
 * faster. `blocks` splits the out columns when [in, out] exceeds what one WebGPU storage binding may hold
 * (an lm_head of 4,096 × 128,256 is 2.1 GB); on other backends it is one block.
 */
export interface Linear {
  blocks: tf.Tensor2D[];
  bias: tf.Tensor1D | null;
}

export interface LayerWeights {
  inputNorm: tf.Tensor1D;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  /** Gemma-2 only: norm applied to the attention output before the residual add. */
  postAttnNorm: tf.Tensor1D | null;
  preMlpNorm: tf.Tensor1D;
  gate: Linear;
  up: Linear;
  down: Linear;
  /** Gemma-2 only: norm applied to the MLP output before the residual add. */
  postMlpNorm: tf.Tensor1D | null;
}

export interface ModelWeights {
  /** Token embeddings [vocab, d_model], kept in JS memory: lookups are row copies, and it stays off the WASM heap. */
  embed: Float32Array;
  layers: LayerWeights[];
  finalNorm: tf.Tensor1D;
  /** [d_model, vocab], in vocabulary blocks where the device needs them. */
  lmHead: Linear;
}

/** Output columns per block so that one [inDim, cols] f32 block fits the backend's binding limit. */
function columnsPerBlock(inDim: number, out: number, backend: Backend): number {
  return Math.max(1, Math.min(out, Math.floor(backend.maxBindingBytes / (4 * inDim))));
}

/** The transpose of rows [o0, o1) of a row-major [out, inDim] matrix, as a backend tensor [inDim, o1 − o0]. */
function transposedBlock(src: Float32Array, inDim: number, o0: number, o1: number, backend: Backend): tf.Tensor2D {
  const w = new Float32Array(inDim * (o1 - o0));
  transposeInto(src.subarray(o0 * inDim, o1 * inDim), o1 - o0, inDim, w);
  return backend.upload(tf.tensor2d(w, [inDim, o1 - o0]));
}

/** A change to output columns [o0, o1) of a Linear's [inDim, out] weight, as a backend tensor (LoRA). */
type BlockDelta = (o0: number, o1: number) => tf.Tensor2D | null;

/** A torch-layout [out, inDim] weight as a Linear, split in output-column blocks as the backend needs. */
function linearOf(
  src: Float32Array,
  out: number,
  inDim: number,
  bias: Float32Array | null,
  backend: Backend,
  delta?: BlockDelta,
): Linear {
  const step = columnsPerBlock(inDim, out, backend);
  const blocks: tf.Tensor2D[] = [];
  for (let o0 = 0; o0 < out; o0 += step) {
    const o1 = Math.min(out, o0 + step);
    const block = transposedBlock(src, inDim, o0, o1, backend);
    const d = delta?.(o0, o1);
    blocks.push(d ? tf.tidy(() => tf.add(block, d)) : block);
    if (d) [block, d].forEach((t) => t.dispose());
  }
  return { blocks, bias: bias ? backend.upload(tf.tensor1d(bias)) : null };
}

/** Writes the transpose of a row-major [rows, cols] matrix into `out` ([cols, rows]), in cache-friendly tiles. */
function transposeInto(src: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const rEnd = Math.min(r0 + TILE, rows),
        cEnd = Math.min(c0 + TILE, cols);
      for (let r = r0; r < rEnd; r++) for (let c = c0; c < cEnd; c++) out[c * rows + r] = src[r * cols + c];
    }
  }
}

class WeightReader {
  constructor(
    private readonly src: TensorSource,
    private readonly dir: string,
    private readonly backend: Backend,
    private readonly adapter: LoraAdapter | null,
  ) {}

  read(name: string, shape: number[]): Float32Array {
    if (!this.src.has(name)) throw new InputError(`${this.dir}: tensor ${name} not found in the checkpoint`);
    const t = this.src.read(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new InputError(`${this.dir}: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    }
    const bad = firstNonFinite(t.data);
    if (bad >= 0)
      throw new InputError(
        `${this.dir}: tensor ${name}: ${nonFiniteName(t.data[bad])} at element ${bad}; model weights must be finite`,
      );
    if (!this.adapter) return t.data;
    // LoRA on linear weights is added on the device (lowRank); replacements and embedding LoRA here, in JS
    const w = this.adapter.replace(name, t.data, shape);
    return this.adapter.hasLowRank(name, 'embedding') ? this.adapter.addLowRank(name, w, shape) : w;
  }

  /** The adapter's change to a linear weight [out, inDim], block by block on the device, if it has one. */
  lowRank(name: string, out: number, inDim: number): BlockDelta | undefined {
    const adapter = this.adapter;
    if (!adapter?.hasLowRank(name, 'linear')) return undefined;
    return (o0, o1) => adapter.deviceDelta(name, [out, inDim], o0, o1);
  }

  /** A torch Linear ([out, in] weight, optional bias) as an [in, out] matrix. */
  linear(name: string, out: number, inDim: number, withBias: boolean): Linear {
    return linearOf(
      this.read(`${name}.weight`, [out, inDim]),
      out,
      inDim,
      withBias ? this.read(`${name}.bias`, [out]) : null,
      this.backend,
      this.lowRank(`${name}.weight`, out, inDim),
    );
  }

  /** RMSNorm weight; Gemma-2 stores w and applies (1 + w), so we fold the 1 in once here. */
  norm(name: string, dim: number, addOne: boolean): tf.Tensor1D {
    const w = this.read(name, [dim]);
    return this.backend.upload(tf.tensor1d(addOne ? w.map((x) => x + 1) : w));
  }
}

/** Checkpoint names of layer i's parameters (Linear entries are prefixes of `.weight` / `.bias`). */
function layerNames(cfg: ModelConfig, i: number) {
  const p = `model.layers.${i}`;
  const attn = `${p}.self_attn`;
  const mlp = `${p}.mlp`;
  return {
    inputNorm: `${p}.input_layernorm.weight`,
    q: `${attn}.q_proj`,
    k: `${attn}.k_proj`,
    v: `${attn}.v_proj`,
    o: `${attn}.o_proj`,
    // Llama calls its pre-MLP norm "post_attention_layernorm"; Gemma-2 uses that name for the norm after attention.
    postAttnNorm: cfg.sandwichNorms ? `${p}.post_attention_layernorm.weight` : null,
    preMlpNorm: cfg.sandwichNorms ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`,
    gate: `${mlp}.gate_proj`,
    up: `${mlp}.up_proj`,
    down: `${mlp}.down_proj`,
    postMlpNorm: cfg.sandwichNorms ? `${p}.post_feedforward_layernorm.weight` : null,
  };
}

const LINEARS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;

/** Non-parameters some checkpoints carry that transformers ignores on load too. */
const IGNORED_TENSOR = /\.rotary_emb\.inv_freq$/;

/**
 * Refuses, before any weight is read, a checkpoint holding tensors the config's model does not use: a
 * config.json with fewer layers (or other options) than the weights would otherwise run another model silently.
 * A stored lm_head of a tied model and rotary inv_freq buffers are ignored, as transformers ignores them.
 */
function checkAllUsed(src: TensorSource, dir: string, cfg: ModelConfig): void {
  const used = new Set(['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const names = layerNames(cfg, i);
    for (const [key, name] of Object.entries(names)) {
      if (name === null) continue;
      if ((LINEARS as readonly string[]).includes(key)) {
        used.add(`${name}.weight`);
        if (key === 'gate' || key === 'up' || key === 'down' ? cfg.mlpBias : cfg.attentionBias)
          used.add(`${name}.bias`);
      } else used.add(name);
    }
  }
  const unused = src.names().filter((n) => !used.has(n) && !IGNORED_TENSOR.test(n));
  if (unused.length) {
    throw new InputError(
      `${dir}: ${unused.length} tensor${unused.length > 1 ? 's' : ''} in the checkpoint that config.json's model does not use ` +
        `(${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''}): does num_hidden_layers (${cfg.numLayers}) or another field disagree with the weights?`,
    );
  }
}

/**
 * Reads every tensor the forward pass needs from a checkpoint directory into backend tensors, with a LoRA
 * adapter's change added to each weight it targets as it is read.
 */
export function loadWeights(
  dir: string,
  cfg: ModelConfig,
  backend: Backend,
  adapter: LoraAdapter | null = null,
): ModelWeights {
  const src = openSafetensors(dir);
  try {
    checkAllUsed(src, dir, cfg);
    adapter?.checkNames((t) => src.has(t));
    const r = new WeightReader(src, dir, backend, adapter);
    const { hiddenSize: d, intermediateSize: ff, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: v } = cfg;
    const layers: LayerWeights[] = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      const n = layerNames(cfg, i);
      layers.push({
        inputNorm: r.norm(n.inputNorm, d, cfg.normAddsOne),
        q: r.linear(n.q, h * hd, d, cfg.attentionBias),
        k: r.linear(n.k, kv * hd, d, cfg.attentionBias),
        v: r.linear(n.v, kv * hd, d, cfg.attentionBias),
        o: r.linear(n.o, d, h * hd, cfg.attentionBias),
        postAttnNorm: n.postAttnNorm ? r.norm(n.postAttnNorm, d, true) : null,
        preMlpNorm: r.norm(n.preMlpNorm, d, cfg.sandwichNorms),
        gate: r.linear(n.gate, ff, d, cfg.mlpBias),
        up: r.linear(n.up, ff, d, cfg.mlpBias),
        down: r.linear(n.down, d, ff, cfg.mlpBias),
        postMlpNorm: n.postMlpNorm ? r.norm(n.postMlpNorm, d, true) : null,
      });
    }
    const embed = r.read('model.embed_tokens.weight', [v, d]);
    const headName = cfg.tieWordEmbeddings || !src.has('lm_head.weight') ? null : 'lm_head.weight';
    if (!cfg.tieWordEmbeddings && !headName)
      throw new InputError(`${dir}: tensor lm_head.weight not found (tie_word_embeddings is false)`);
    const lmHead = headName
      ? linearOf(r.read(headName, [v, d]), v, d, null, backend, r.lowRank(headName, v, d))
      : linearOf(embed, v, d, null, backend);
    const finalNorm = r.norm('model.norm.weight', d, cfg.normAddsOne);
    adapter?.checkAllUsed();
    return { embed, layers, finalNorm, lmHead };
  } finally {
    src.close();
  }
}

export function disposeWeights(w: ModelWeights): void {
  for (const l of w.layers) {
    for (const t of [l.inputNorm, l.postAttnNorm, l.preMlpNorm, l.postMlpNorm]) t?.dispose();
    [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].forEach(disposeLinear);
  }
  w.finalNorm.dispose();
  disposeLinear(w.lmHead);
}

function disposeLinear(l: Linear): void {
  l.blocks.forEach((b) => b.dispose());
  l.bias?.dispose();
}
