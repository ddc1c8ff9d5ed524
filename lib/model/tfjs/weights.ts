// The model's weights as tfjs tensors for the CPU backends: each linear [out, in] transposed to [in, out]
// (tfjs-wasm multiplies untransposed operands far faster), in f32 holding the values of the dtype the model
// runs in (bf16, f16 or FP8 rounded or dequantized once at load: the CPU kernels compute in f32 only).
import * as tf from '@tensorflow/tfjs';
import type { Backend } from '../../backend.ts';
import { layerNames, type WeightSource } from '../checkpoint.ts';
import type { ModelConfig } from '../config.ts';
import type { WeightDtype } from '../kernels.ts';
import { heldAs, matrixF32, type StoredMatrix } from '../weightdtype.ts';

/**
 * A linear map stored as [in, out], split in output-column blocks when [in, out] exceeds what one kernel may
 * bind (only a WebGPU device limits it); elsewhere one block.
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

/** A torch-layout [out, inDim] weight as a Linear, split in output-column blocks as the backend needs. */
export function linearOf(
  src: Float32Array,
  out: number,
  inDim: number,
  bias: Float32Array | null,
  backend: Backend,
): Linear {
  const step = Math.max(1, Math.min(out, Math.floor(backend.maxBindingBytes / (4 * inDim))));
  const blocks: tf.Tensor2D[] = [];
  for (let o0 = 0; o0 < out; o0 += step) {
    const o1 = Math.min(out, o0 + step);
    const w = new Float32Array(inDim * (o1 - o0));
    transposeInto(src.subarray(o0 * inDim, o1 * inDim), o1 - o0, inDim, w);
    blocks.push(backend.upload(tf.tensor2d(w, [inDim, o1 - o0])));
  }
  return { blocks, bias: bias ? backend.upload(tf.tensor1d(bias)) : null };
}

/** Reads every tensor the forward pass needs, held as `dtype` holds them, into backend tensors. */
export async function tfjsWeights(
  ck: WeightSource,
  cfg: ModelConfig,
  backend: Backend,
  dtype: WeightDtype,
): Promise<ModelWeights> {
  const { hiddenSize: d, intermediateSize: ff, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: v } = cfg;
  const values = (m: StoredMatrix, linear: boolean) =>
    matrixF32(heldAs(m, dtype, { linear, quantize: cfg.fp8 === null }));
  const linear = async (name: string, out: number, inDim: number, withBias: boolean) =>
    linearOf(
      values(await ck.matrix(`${name}.weight`, out, inDim), true),
      out,
      inDim,
      withBias ? ck.vector(`${name}.bias`, out) : null,
      backend,
    );
  // RMSNorm weight; Gemma-2 stores w and applies (1 + w), so we fold the 1 in once here.
  const norm = (name: string, addOne: boolean) => {
    const w = ck.vector(name, d);
    return backend.upload(tf.tensor1d(addOne ? w.map((x) => x + 1) : w));
  };
  const layers: LayerWeights[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const n = layerNames(cfg, i);
    layers.push({
      inputNorm: norm(n.inputNorm, cfg.normAddsOne),
      q: await linear(n.q, h * hd, d, cfg.attentionBias),
      k: await linear(n.k, kv * hd, d, cfg.attentionBias),
      v: await linear(n.v, kv * hd, d, cfg.attentionBias),
      o: await linear(n.o, d, h * hd, cfg.attentionBias),
      postAttnNorm: n.postAttnNorm ? norm(n.postAttnNorm, true) : null,
      preMlpNorm: norm(n.preMlpNorm, cfg.sandwichNorms),
      gate: await linear(n.gate, ff, d, cfg.mlpBias),
      up: await linear(n.up, ff, d, cfg.mlpBias),
      down: await linear(n.down, d, ff, cfg.mlpBias),
      postMlpNorm: n.postMlpNorm ? norm(n.postMlpNorm, true) : null,
    });
  }
  const embed = values(await ck.matrix('model.embed_tokens.weight', v, d), false);
  const head = ck.headName();
  const lmHead = linearOf(head ? values(await ck.matrix(head, v, d), false) : embed, v, d, null, backend);
  const finalNorm = norm('model.norm.weight', cfg.normAddsOne);
  ck.finish();
  return { embed, layers, finalNorm, lmHead };
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
