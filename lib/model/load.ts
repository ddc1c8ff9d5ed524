import type { Backend } from '../backend.ts';
import { InputError } from '../errors.ts';
import { loadAdapter } from './adapter.ts';
import { Checkpoint, type WeightSource } from './checkpoint.ts';
import { loadModelConfig, type ModelConfig } from './config.ts';
import type { Kernels, WeightDtype } from './kernels.ts';
import { TfjsKernels } from './tfjs/kernels.ts';
import { tfjsWeights } from './tfjs/weights.ts';
import { type Model, Transformer } from './transformer.ts';
import { Gpu } from './webgpu/gpu.ts';
import { WebgpuKernels } from './webgpu/kernels.ts';
import { gpuWeights } from './webgpu/weights.ts';

/** `--dtype`: the dtype weights are held in; `auto` is the checkpoint's on a GPU, f32 on the CPU backends. */
export type DtypeChoice = 'auto' | 'f32' | 'bf16' | 'f16';
export const DTYPE_CHOICES: DtypeChoice[] = ['auto', 'f32', 'bf16', 'f16'];

export const QUANTIZE_CHOICES = ['none', 'fp8'] as const;

/** How the weights are held: `--dtype` and `--quantize`. */
export interface WeightChoice {
  /** Default auto. */
  dtype?: DtypeChoice;
  /** `fp8`: quantize the decoder's linear weights on load, per output channel (weight-only FP8 E4M3). */
  quantize?: (typeof QUANTIZE_CHOICES)[number] | null;
}

export interface LoadOptions extends WeightChoice {
  /** A PEFT LoRA adapter directory, applied to the weights as they load (lib/model/adapter.ts). */
  adapter?: string | null;
  /** WebGPU: run each block's pieces as fused kernels (default) or one by one (the same arithmetic). */
  fuse?: boolean;
  /**
   * WebGPU: the fewest rows a step's linears take in 32-row tiles (default Infinity: always the 4-row GEMV, the
   * faster on an H200 so far). The outputs are the same bits either way; the tile reads each weight once per 32 rows.
   */
  tiledFrom?: number;
}

/** Bytes per weight of each dtype (FP8's per-row scales are a rounding error). */
const BYTES: Record<WeightDtype, number> = { f32: 4, bf16: 2, f16: 2, fp8: 1 };

/**
 * Bytes the backend holds for a config's weights in a dtype (the embedding table stays in JS memory; with FP8
 * the lm_head stays in bf16, as FP8 checkpoints keep it).
 */
export function backendWeightBytes(c: ModelConfig, dtype: WeightDtype = 'f32'): number {
  const attn = c.hiddenSize * (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.numHeads * c.headDim * c.hiddenSize;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  const head = BYTES[dtype === 'fp8' ? 'bf16' : dtype] * c.vocabSize * c.hiddenSize;
  return BYTES[dtype] * c.numLayers * (attn + mlp) + head;
}

/**
 * The dtype a model is held in: FP8 when quantizing; else the one asked for; else (auto) the checkpoint's own on
 * a GPU — f32 with an adapter, whose change would be rounded away — and f32 on the CPU backends, which compute
 * in f32 (an FP8 checkpoint is dequantized there).
 */
export function resolveDtype(o: LoadOptions, backend: Backend, stored: WeightDtype): WeightDtype {
  if (o.quantize === 'fp8') return 'fp8';
  const asked = o.dtype ?? 'auto';
  if (asked !== 'auto') return asked;
  if (backend.kind !== 'webgpu' || o.adapter) return 'f32';
  return stored;
}

/**
 * Loads a Hugging Face checkpoint directory (config, safetensors) onto a backend; refuses, before reading any
 * weight, a model the backend cannot hold (or an adapter that does not fit it).
 */
export async function loadModel(dir: string, backend: Backend, o: LoadOptions = {}): Promise<Model> {
  const config = loadModelConfig(dir);
  const adapter = o.adapter ? loadAdapter(o.adapter, config) : null;
  const ck = new Checkpoint(dir, config, adapter);
  try {
    const dtype = resolveDtype(o, backend, ck.storedDtype());
    if (dtype === 'fp8' && o.dtype && o.dtype !== 'auto')
      throw new InputError(`--dtype ${o.dtype} and --quantize fp8: give one of them`);
    const gpu = backend.kind === 'webgpu';
    const why = await backend.cannotHold(backendWeightBytes(config, gpu ? dtype : 'f32'));
    if (why) throw new InputError(`${dir}: ${why}`);
    return new Transformer(config, await kernelsFor(backend, ck, config, dtype, o));
  } finally {
    ck.close();
  }
}

/** The backend's kernels with the source's weights on it: our WGSL kernels on WebGPU, tfjs ops elsewhere. */
export async function kernelsFor(
  backend: Backend,
  ck: WeightSource,
  config: ModelConfig,
  dtype: WeightDtype,
  o: LoadOptions,
): Promise<Kernels<unknown>> {
  if (backend.kind === 'webgpu') {
    const gpu = new Gpu();
    const w = await gpuWeights(gpu, ck, config, dtype, backend.maxBindingBytes);
    return new WebgpuKernels(gpu, config, w, dtype, {
      fuse: o.fuse ?? true,
      maxBindingBytes: backend.maxBindingBytes,
      tiledFrom: o.tiledFrom,
    });
  }
  return new TfjsKernels(config, await tfjsWeights(ck, config, backend, dtype), dtype);
}
