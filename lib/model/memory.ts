// The WebGPU runtime's device memory as arithmetic from a model's shapes: what `loadModel` and `generate` allocate
// (lib/model/webgpu/kernels.ts), so a batch can be sized before anything is allocated and the largest model per
// GPU size stated. WebGPU reports no free memory; the budget comes from the caller (--gpu-memory, or the NVIDIA
// driver's figure when readable) and includes what this model already holds when read after its load.
import { execFileSync } from 'node:child_process';
import type { ModelConfig } from './config.ts';
import type { WeightDtype } from './kernels.ts';
import { backendWeightBytes } from './load.ts';
import { stepLayout } from './webgpu/shaders.ts';

/** A generation's shape: sequences decoded at once, the longest prompt, new tokens per sequence. */
export interface RunShape {
  batch: number;
  promptTokens: number;
  newTokens: number;
}

export interface RunBytes {
  /** Linears, lm_head, norms (and FP8's per-row scales); the embedding table stays in host memory. */
  weights: number;
  /** Keys and values in f32 for every slot's full capacity. */
  kvCache: number;
  /** Activation buffers for the largest step (all prompts' prefill at once), logits, rotary table, sampling state. */
  activations: number;
  total: number;
}

const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(n));

/** KV cache bytes per sequence per token: keys and values, f32, every layer. */
export function kvBytesPerToken(c: ModelConfig): number {
  return 2 * 4 * c.numLayers * c.numKvHeads * c.headDim;
}

/**
 * Device bytes of a model's weights in a dtype, as the WebGPU runtime holds them (biases not counted; under FP8 the
 * lm_head in bf16, as FP8 checkpoints keep it).
 */
export function deviceWeightBytes(c: ModelConfig, dtype: WeightDtype): number {
  const norms = (c.sandwichNorms ? 4 : 2) * c.numLayers + 1;
  const linearRows =
    c.numLayers * ((c.numHeads + 2 * c.numKvHeads) * c.headDim + 2 * c.intermediateSize + 2 * c.hiddenSize);
  return backendWeightBytes(c, dtype) + 4 * c.hiddenSize * norms + (dtype === 'fp8' ? 4 * linearRows : 0);
}

/** Activation bytes of a step of `tokens` packed tokens over `rows` sequences, with the cache's sampling state. */
export function activationBytes(c: ModelConfig, tokens: number, rows: number, capacity: number): number {
  const { hiddenSize: d, numHeads: H, numKvHeads: KV, headDim: hd, intermediateSize: ff } = c;
  const mcap = pow2(Math.max(16, tokens));
  const widths = 4 * d + (H + 2 * KV) * hd + 2 * H * hd + 3 * ff; // h x y yn, qkv, q z, gu hidden
  const logits = 4 * Math.max(rows, mcap) * c.vocabSize;
  const rope = 4 * pow2(Math.max(64, capacity)) * hd;
  const seen = 4 * rows * Math.ceil(c.vocabSize / 32);
  const sampler = 1024 * rows; // per-row sampling parameters and picks: under 1 KB a row (an upper bound)
  return 4 * mcap * widths + 4 * stepLayout(mcap).words + logits + rope + seen + sampler;
}

/** Device bytes a generation of this shape needs at its peak (prefill of every slot at once). */
export function runBytes(c: ModelConfig, dtype: WeightDtype, s: RunShape): RunBytes {
  const capacity = s.promptTokens + s.newTokens;
  const weights = deviceWeightBytes(c, dtype);
  const kvCache = kvBytesPerToken(c) * s.batch * capacity;
  const activations = activationBytes(c, s.batch * s.promptTokens, s.batch, capacity);
  return { weights, kvCache, activations, total: weights + kvCache + activations };
}

/** Default batch on a GPU: the largest in [1, 64] whose run fits `budget` bytes, with why. */
export function gpuBatch(
  c: ModelConfig,
  dtype: WeightDtype,
  budget: number,
  s: Omit<RunShape, 'batch'>,
): { batch: number; why: string } {
  const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
  const fits = (batch: number) => runBytes(c, dtype, { ...s, batch }).total <= budget;
  if (!fits(1))
    return { batch: 1, why: `even batch 1 needs ${gb(runBytes(c, dtype, { ...s, batch: 1 }).total)} > ${gb(budget)}` };
  let batch = 1;
  while (batch < 64 && fits(batch + 1)) batch++;
  const r = runBytes(c, dtype, { ...s, batch });
  return {
    batch,
    why: `${gb(budget)} budget: weights ${gb(r.weights)} + KV cache ${gb(r.kvCache)} (${batch} × ${s.promptTokens + s.newTokens} tokens) + activations ${gb(r.activations)}${batch === 64 ? ' (64 is the most)' : ''}`,
  };
}

/**
 * The device memory a run may use, weights included: --gpu-memory (GB) when given, else the NVIDIA driver's free
 * memory plus `held` (what this model already took, when read after its load), else null.
 */
export function gpuBudget(gigabytes: number | null, held: number): { bytes: number; source: string } | null {
  if (gigabytes !== null) return { bytes: gigabytes * 1e9, source: '--gpu-memory' };
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=memory.free', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const mib = Number.parseFloat(out.split('\n')[0]);
    return Number.isFinite(mib) ? { bytes: mib * 2 ** 20 + held, source: "the NVIDIA driver's free memory" } : null;
  } catch {
    return null; // no NVIDIA driver here (or not readable): the caller says so
  }
}

/** The batch a GPU run takes by default: sized from the budget (gpuBudget), else 32. */
export function defaultGpuBatch(
  c: ModelConfig,
  dtype: WeightDtype,
  budget: { bytes: number; source: string } | null,
  s: Omit<RunShape, 'batch'>,
): { batch: number; why: string } {
  if (!budget)
    return { batch: 32, why: 'no free-memory figure here (no readable NVIDIA driver; give --gpu-memory GB)' };
  const r = gpuBatch(c, dtype, budget.bytes, s);
  return { batch: r.batch, why: `${budget.source}: ${r.why}` };
}
