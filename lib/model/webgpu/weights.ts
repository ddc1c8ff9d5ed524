// The model's weights on the GPU in the dtype it runs in: each linear [out, in] as torch stores it (rows
// contiguous: what a GEMV streams), packed two bf16/f16 or four FP8 values per 32-bit word, split in row
// blocks where one buffer would pass the device's binding limit. The q/k/v projections are one matrix with
// each q/k head's rows ordered 0, d/2, 1, d/2 + 1, … (a rotary pair side by side); gate and up are one matrix
// with their rows interleaved (a gating pair side by side). Norm weights and biases stay f32.
import { InputError } from '../../errors.ts';
import type { WeightSource } from '../checkpoint.ts';
import type { ModelConfig } from '../config.ts';
import type { WeightDtype } from '../kernels.ts';
import { heldAlike, heldAs, matrixF32, type StoredMatrix } from '../weightdtype.ts';
import type { Gpu, GpuBuffer } from './gpu.ts';

/** A row block of a linear on the device. */
export interface GpuBlock {
  /** First output row (column of the product) of the block, and its rows. */
  row0: number;
  rows: number;
  w: GpuBuffer;
  /** FP8 only: one scale per row. */
  scales: GpuBuffer | null;
  bias: GpuBuffer | null;
}

export interface GpuLinear {
  out: number;
  in: number;
  dtype: WeightDtype;
  blocks: GpuBlock[];
}

export interface GpuLayer {
  inputNorm: GpuBuffer;
  qkv: GpuLinear;
  o: GpuLinear;
  postAttnNorm: GpuBuffer | null;
  preMlpNorm: GpuBuffer;
  gateUp: GpuLinear;
  down: GpuLinear;
  postMlpNorm: GpuBuffer | null;
}

export interface GpuWeights {
  /** Token embeddings [vocab, d_model] in JS memory (f32 values of the model's dtype): rows are gathered there. */
  embed: Float32Array;
  layers: GpuLayer[];
  finalNorm: GpuBuffer;
  lmHead: GpuLinear;
}

/** Rows of several matrices of one dtype and width, in the order given as [matrix, row] (FP8: a scale per row). */
export function gatherRows(ms: StoredMatrix[], order: [number, number][]): StoredMatrix {
  const first = ms[0];
  const { cols } = first;
  const rows = order.length;
  if (ms.some((m) => m.kind !== first.kind || m.cols !== cols)) throw new Error('gatherRows: mixed dtypes or widths');
  switch (first.kind) {
    case 'f32': {
      const data = new Float32Array(rows * cols);
      order.forEach(([i, r], to) => {
        const m = ms[i] as typeof first;
        data.set(m.data.subarray(r * cols, (r + 1) * cols), to * cols);
      });
      return { kind: 'f32', rows, cols, data };
    }
    case 'bf16':
    case 'f16': {
      const bits = new Uint16Array(rows * cols);
      order.forEach(([i, r], to) => {
        const m = ms[i] as typeof first;
        bits.set(m.bits.subarray(r * cols, (r + 1) * cols), to * cols);
      });
      return { kind: first.kind, rows, cols, bits };
    }
    case 'fp8': {
      const bytes = new Uint8Array(rows * cols);
      const scale = new Float32Array(rows);
      order.forEach(([i, r], to) => {
        const m = ms[i] as typeof first;
        bytes.set(m.bytes.subarray(r * cols, (r + 1) * cols), to * cols);
        scale[to] = m.scale[m.scale.length > 1 ? r : 0];
      });
      return { kind: 'fp8', rows, cols, bytes, scale };
    }
  }
}

/** The row order putting rotary pairs side by side within each head: 0, d/2, 1, d/2 + 1, … */
export function rotaryOrder(heads: number, headDim: number): number[] {
  const half = headDim / 2;
  return Array.from({ length: heads * headDim }, (_, j) => {
    const head = Math.floor(j / headDim);
    const i = j % headDim;
    return head * headDim + (i % 2 === 0 ? i / 2 : half + (i - 1) / 2);
  });
}

/** Bytes of one row on the device. */
const rowBytes = (m: StoredMatrix) => m.cols * (m.kind === 'f32' ? 4 : m.kind === 'fp8' ? 1 : 2);

/** Uploads a matrix in row blocks of at most `limit` bytes (an even number of rows when `pairs`). */
function upload(
  gpu: Gpu,
  m: StoredMatrix,
  bias: Float32Array | null,
  limit: number,
  pairs: boolean,
  label: string,
): GpuLinear {
  if (m.cols % 4 !== 0)
    throw new InputError(`${label}: input width ${m.cols} is not a multiple of 4, which the WebGPU kernels need`);
  let step = Math.max(1, Math.min(m.rows, Math.floor(limit / rowBytes(m))));
  if (pairs) step = Math.max(2, step - (step % 2));
  const blocks: GpuBlock[] = [];
  for (let row0 = 0; row0 < m.rows; row0 += step) {
    const rows = Math.min(step, m.rows - row0);
    const part = gatherRows(
      [m],
      Array.from({ length: rows }, (_, r): [number, number] => [0, row0 + r]),
    );
    const data = part.kind === 'f32' ? part.data : part.kind === 'fp8' ? part.bytes : part.bits;
    blocks.push({
      row0,
      rows,
      w: gpu.upload(data, `${label}[${row0}:${row0 + rows}]`),
      scales: part.kind === 'fp8' ? gpu.upload(part.scale, `${label} scales`) : null,
      bias: bias ? gpu.upload(bias.subarray(row0, row0 + rows), `${label} bias`) : null,
    });
  }
  return { out: m.rows, in: m.cols, dtype: m.kind, blocks };
}

/** Reads the checkpoint's weights onto the GPU, held in `dtype`, blocks no larger than `limit` bytes. */
export async function gpuWeights(
  gpu: Gpu,
  ck: WeightSource,
  cfg: ModelConfig,
  dtype: WeightDtype,
  limit: number,
): Promise<GpuWeights> {
  const { hiddenSize: d, intermediateSize: ff, numHeads: H, numKvHeads: KV, headDim: hd, vocabSize: V } = cfg;
  const held = (m: StoredMatrix, linear: boolean) => heldAs(m, dtype, { linear, quantize: cfg.fp8 === null });
  const matrix = async (name: string, rows: number, cols: number, linear = true) =>
    held(await ck.matrix(name, rows, cols), linear);
  const vector = (name: string, n: number, present: boolean) => (present ? ck.vector(name, n) : null);
  const norm = (name: string, addOne: boolean) => {
    const w = ck.vector(name, d);
    return gpu.upload(addOne ? w.map((x) => x + 1) : w, name);
  };
  const qOrder = rotaryOrder(H, hd);
  const kOrder = rotaryOrder(KV, hd);
  const layers: GpuLayer[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    const m = `${p}.mlp`;
    const [q, k, v] = [
      await matrix(`${a}.q_proj.weight`, H * hd, d),
      await matrix(`${a}.k_proj.weight`, KV * hd, d),
      await matrix(`${a}.v_proj.weight`, KV * hd, d),
    ];
    const qkvOrder: [number, number][] = [
      ...qOrder.map((r): [number, number] => [0, r]),
      ...kOrder.map((r): [number, number] => [1, r]),
      ...Array.from({ length: KV * hd }, (_, r): [number, number] => [2, r]),
    ];
    const bias = cfg.attentionBias;
    const qkvBiases = bias
      ? [
          ck.vector(`${a}.q_proj.bias`, H * hd),
          ck.vector(`${a}.k_proj.bias`, KV * hd),
          ck.vector(`${a}.v_proj.bias`, KV * hd),
        ]
      : null;
    const qkvBias = qkvBiases ? Float32Array.from(qkvOrder, ([w, r]) => qkvBiases[w][r]) : null;
    const [gate, up] = [await matrix(`${m}.gate_proj.weight`, ff, d), await matrix(`${m}.up_proj.weight`, ff, d)];
    const guOrder = Array.from({ length: 2 * ff }, (_, r): [number, number] => [r % 2, r >> 1]);
    const guBiases = cfg.mlpBias ? [ck.vector(`${m}.gate_proj.bias`, ff), ck.vector(`${m}.up_proj.bias`, ff)] : null;
    const guBias = guBiases ? Float32Array.from(guOrder, ([w, r]) => guBiases[w][r]) : null;
    layers.push({
      inputNorm: norm(`${p}.input_layernorm.weight`, cfg.normAddsOne),
      qkv: upload(gpu, gatherRows(heldAlike([q, k, v]), qkvOrder), qkvBias, limit, true, `${a}.qkv`),
      o: upload(
        gpu,
        await matrix(`${a}.o_proj.weight`, d, H * hd),
        vector(`${a}.o_proj.bias`, d, bias),
        limit,
        false,
        `${a}.o_proj`,
      ),
      // Llama calls its pre-MLP norm "post_attention_layernorm"; Gemma-2 uses that name for the norm after attention.
      postAttnNorm: cfg.sandwichNorms ? norm(`${p}.post_attention_layernorm.weight`, true) : null,
      preMlpNorm: cfg.sandwichNorms
        ? norm(`${p}.pre_feedforward_layernorm.weight`, true)
        : norm(`${p}.post_attention_layernorm.weight`, false),
      gateUp: upload(gpu, gatherRows(heldAlike([gate, up]), guOrder), guBias, limit, true, `${m}.gate_up`),
      down: upload(
        gpu,
        await matrix(`${m}.down_proj.weight`, d, ff),
        vector(`${m}.down_proj.bias`, d, cfg.mlpBias),
        limit,
        false,
        `${m}.down_proj`,
      ),
      postMlpNorm: cfg.sandwichNorms ? norm(`${p}.post_feedforward_layernorm.weight`, true) : null,
    });
  }
  const embedStored = await matrix('model.embed_tokens.weight', V, d, false);
  const head = ck.headName();
  const lmHead = upload(gpu, head ? await matrix(head, V, d, false) : embedStored, null, limit, false, 'lm_head');
  const finalNorm = norm('model.norm.weight', cfg.normAddsOne);
  ck.finish();
  return { embed: matrixF32(embedStored), layers, finalNorm, lmHead };
}

/** Every buffer of the weights, for freeing. */
export function weightBuffers(w: GpuWeights): GpuBuffer[] {
  const lin = (l: GpuLinear) =>
    l.blocks.flatMap((b) => [b.w, ...(b.scales ? [b.scales] : []), ...(b.bias ? [b.bias] : [])]);
  return [
    ...w.layers.flatMap((l) => [
      l.inputNorm,
      l.preMlpNorm,
      ...(l.postAttnNorm ? [l.postAttnNorm] : []),
      ...(l.postMlpNorm ? [l.postMlpNorm] : []),
      ...lin(l.qkv),
      ...lin(l.o),
      ...lin(l.gateUp),
      ...lin(l.down),
    ]),
    w.finalNorm,
    ...lin(w.lmHead),
  ];
}
