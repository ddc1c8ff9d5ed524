import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { openSafetensors, type TensorSource } from '../io/safetensors.ts';
import type { ModelConfig } from './config.ts';

/** A linear map stored as [in, out] (torch keeps [out, in]): tfjs-wasm multiplies untransposed operands far faster. */
export interface Linear {
  weight: tf.Tensor2D;
  bias: tf.Tensor1D | null;
}

export interface LayerWeights {
  inputNorm: tf.Tensor1D;
  /** q, k and v projections fused along the output axis: [d_model, (H + 2·KVH)·head_dim]. */
  qkv: Linear;
  o: Linear;
  /** Gemma-2 only: norm applied to the attention output before the residual add. */
  postAttnNorm: tf.Tensor1D | null;
  preMlpNorm: tf.Tensor1D;
  /** gate and up projections fused: [d_model, 2·intermediate]. */
  gateUp: Linear;
  down: Linear;
  /** Gemma-2 only: norm applied to the MLP output before the residual add. */
  postMlpNorm: tf.Tensor1D | null;
}

export interface ModelWeights {
  /** Token embeddings [vocab, d_model], kept in JS memory: lookups are row copies, and it stays off the WASM heap. */
  embed: Float32Array;
  layers: LayerWeights[];
  finalNorm: tf.Tensor1D;
  /** [d_model, vocab] */
  lmHead: tf.Tensor2D;
}

/** Copies a row-major [rows, cols] matrix transposed into `out` (row-major [cols, outCols]) starting at column `col0`. */
function transposeInto(src: Float32Array, rows: number, cols: number, out: Float32Array, outCols: number, col0: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * outCols + col0 + r] = src[base + c];
  }
}

class WeightReader {
  constructor(private readonly src: TensorSource, private readonly dir: string) {}

  read(name: string, shape: number[]): Float32Array {
    if (!this.src.has(name)) throw new InputError(`${this.dir}: tensor ${name} not found in the checkpoint`);
    const t = this.src.read(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new InputError(`${this.dir}: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    }
    return t.data;
  }

  /** Torch Linear weights [out_i, in] concatenated along out, returned as one [in, Σ out_i] matrix. */
  linear(names: string[], outs: number[], inDim: number, withBias: boolean): Linear {
    const total = outs.reduce((a, b) => a + b, 0);
    const w = new Float32Array(inDim * total);
    const b = withBias ? new Float32Array(total) : null;
    let col = 0;
    names.forEach((name, i) => {
      transposeInto(this.read(`${name}.weight`, [outs[i], inDim]), outs[i], inDim, w, total, col);
      if (b) b.set(this.read(`${name}.bias`, [outs[i]]), col);
      col += outs[i];
    });
    return { weight: tf.tensor2d(w, [inDim, total]), bias: b ? tf.tensor1d(b) : null };
  }

  /** RMSNorm weight; Gemma-2 stores w and applies (1 + w), so we fold the 1 in once here. */
  norm(name: string, dim: number, addOne: boolean): tf.Tensor1D {
    const w = this.read(name, [dim]);
    return tf.tensor1d(addOne ? w.map((x) => x + 1) : w);
  }
}

/** Reads every tensor the forward pass needs from a checkpoint directory into backend tensors. */
export function loadWeights(dir: string, cfg: ModelConfig): ModelWeights {
  const src = openSafetensors(dir);
  try {
    const r = new WeightReader(src, dir);
    const { hiddenSize: d, intermediateSize: ff, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: v } = cfg;
    const layers: LayerWeights[] = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      const p = `model.layers.${i}`;
      layers.push({
        inputNorm: r.norm(`${p}.input_layernorm.weight`, d, cfg.normAddsOne),
        qkv: r.linear([`${p}.self_attn.q_proj`, `${p}.self_attn.k_proj`, `${p}.self_attn.v_proj`], [h * hd, kv * hd, kv * hd], d, cfg.attentionBias),
        o: r.linear([`${p}.self_attn.o_proj`], [d], h * hd, cfg.attentionBias),
        // Llama calls its pre-MLP norm "post_attention_layernorm"; Gemma-2 uses that name for the norm after attention.
        postAttnNorm: cfg.sandwichNorms ? r.norm(`${p}.post_attention_layernorm.weight`, d, true) : null,
        preMlpNorm: cfg.sandwichNorms
          ? r.norm(`${p}.pre_feedforward_layernorm.weight`, d, true)
          : r.norm(`${p}.post_attention_layernorm.weight`, d, false),
        gateUp: r.linear([`${p}.mlp.gate_proj`, `${p}.mlp.up_proj`], [ff, ff], d, cfg.mlpBias),
        down: r.linear([`${p}.mlp.down_proj`], [d], ff, cfg.mlpBias),
        postMlpNorm: cfg.sandwichNorms ? r.norm(`${p}.post_feedforward_layernorm.weight`, d, true) : null,
      });
    }
    const embed = r.read('model.embed_tokens.weight', [v, d]);
    const headName = cfg.tieWordEmbeddings || !src.has('lm_head.weight') ? null : 'lm_head.weight';
    if (!cfg.tieWordEmbeddings && !headName) throw new InputError(`${dir}: tensor lm_head.weight not found (tie_word_embeddings is false)`);
    const headSrc = headName ? r.read(headName, [v, d]) : embed;
    const head = new Float32Array(d * v);
    transposeInto(headSrc, v, d, head, v, 0);
    return { embed, layers, finalNorm: r.norm('model.norm.weight', d, cfg.normAddsOne), lmHead: tf.tensor2d(head, [d, v]) };
  } finally {
    src.close();
  }
}

export function disposeWeights(w: ModelWeights): void {
  for (const l of w.layers) {
    for (const t of [l.inputNorm, l.postAttnNorm, l.preMlpNorm, l.postMlpNorm, l.qkv.weight, l.qkv.bias, l.o.weight, l.o.bias,
      l.gateUp.weight, l.gateUp.bias, l.down.weight, l.down.bias]) t?.dispose();
  }
  w.finalNorm.dispose();
  w.lmHead.dispose();
}
