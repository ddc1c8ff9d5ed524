import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { readJsonObject, shown } from '../io/json.ts';

/** RoPE frequency layout: plain (`default`) or Llama-3.1's long-context rescaling (`llama3`). */
export type RopeConfig =
  | { type: 'default'; theta: number }
  | {
      type: 'llama3';
      theta: number;
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositions: number;
    };

/**
 * One config for both supported families. Gemma-2's differences from Llama are explicit fields, so the
 * forward pass reads as a single textbook decoder with a few switches.
 */
export interface ModelConfig {
  architecture: 'LlamaForCausalLM' | 'Gemma2ForCausalLM';
  family: 'llama' | 'gemma2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  rope: RopeConfig;
  tieWordEmbeddings: boolean;
  attentionBias: boolean;
  mlpBias: boolean;
  /** MLP activation of the gate: SiLU (Llama) or tanh-approximated GELU (Gemma-2). */
  activation: 'silu' | 'gelu_tanh';
  /** Attention logits are multiplied by this (head_dim^-0.5, or query_pre_attn_scalar^-0.5 for Gemma-2). */
  attentionScale: number;
  /** Gemma-2: embeddings × √hidden_size; RMSNorm weight applied as (1 + w); norms after attention and MLP too. */
  scaleEmbeddings: boolean;
  normAddsOne: boolean;
  sandwichNorms: boolean;
  attnLogitSoftcap: number | null;
  finalLogitSoftcap: number | null;
  /** Per layer: null for full attention, else the window W (a query attends to keys less than W positions back). */
  slidingWindow: (number | null)[];
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
  /** max_position_embeddings: the longest sequence (prompt + generated tokens) the model was made for. */
  maxPositions: number;
  /** FP8 weights declared by `quantization_config` (compressed-tensors), or null. */
  fp8: Fp8Scheme | null;
}

/** Which FP8 layout a checkpoint's config declares (compressed-tensors `quantization_config`), if any. */
export interface Fp8Scheme {
  /** One scale per output row ("channel") or one per tensor. */
  strategy: 'channel' | 'tensor';
  /** Modules left unquantized (stored in the checkpoint's other dtype). */
  ignore: string[];
}

/** Reads `quantization_config` of a checkpoint's config.json: null (none) or the FP8 weight scheme; anything else is refused. */
export function fp8Scheme(raw: Record<string, unknown>, file: string): Fp8Scheme | null {
  const q = raw.quantization_config as Record<string, unknown> | undefined;
  if (!q) return null;
  const where = `${file}: quantization_config`;
  if (q.quant_method !== 'compressed-tensors')
    throw new InputError(
      `${where}: quant_method ${JSON.stringify(q.quant_method)} is not supported (supported: compressed-tensors FP8 weights)`,
    );
  const groups = Object.values((q.config_groups ?? {}) as Record<string, Record<string, unknown>>);
  if (groups.length !== 1) throw new InputError(`${where}: expected one config group, found ${groups.length}`);
  const w = (groups[0].weights ?? {}) as Record<string, unknown>;
  if (w.type !== 'float' || w.num_bits !== 8 || w.symmetric === false)
    throw new InputError(
      `${where}.config_groups: weights ${JSON.stringify({ type: w.type, num_bits: w.num_bits, symmetric: w.symmetric })} are not supported (supported: symmetric 8-bit float, FP8 E4M3)`,
    );
  if (w.strategy !== 'channel' && w.strategy !== 'tensor')
    throw new InputError(
      `${where}.config_groups: weight strategy ${JSON.stringify(w.strategy)} is not supported (supported: channel, tensor)`,
    );
  if (w.dynamic) throw new InputError(`${where}.config_groups: dynamic weight scales are not supported`);
  return { strategy: w.strategy, ignore: ((q.ignore as string[] | undefined) ?? []).map(String) };
}

type Json = Record<string, unknown>;

const readJson = readJsonObject;

const asIds = (v: unknown): number[] => (v == null ? [] : Array.isArray(v) ? (v as number[]) : [v as number]);

function parseRope(raw: Json, file: string): RopeConfig {
  // Newer configs nest everything under `rope_parameters`; older ones use `rope_theta` + `rope_scaling`.
  const params = (raw.rope_parameters as Json | undefined) ?? (raw.rope_scaling as Json | undefined) ?? {};
  const positive = (key: string, v: unknown): number => {
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0))
      throw new InputError(`${file}: rope field ${key} must be a positive number, found ${shown(v)}`);
    return v;
  };
  const theta = positive('rope_theta', params.rope_theta ?? raw.rope_theta ?? 10000);
  const type = String(params.rope_type ?? params.type ?? 'default');
  if (type === 'default') return { type, theta };
  if (type === 'llama3') {
    const need = (k: string) => {
      if (params[k] === undefined) throw new InputError(`${file}: rope scaling llama3 needs field ${k}`);
      return positive(k, params[k]);
    };
    const rope = {
      type,
      theta,
      factor: need('factor'),
      lowFreqFactor: need('low_freq_factor'),
      highFreqFactor: need('high_freq_factor'),
      originalMaxPositions: need('original_max_position_embeddings'),
    } as const;
    if (!(rope.highFreqFactor > rope.lowFreqFactor))
      throw new InputError(
        `${file}: rope scaling llama3: high_freq_factor (${rope.highFreqFactor}) must exceed low_freq_factor (${rope.lowFreqFactor})`,
      );
    return rope;
  }
  throw new InputError(`${file}: unsupported option rope type "${type}" (supported: default, llama3)`);
}

/** Reads and validates `config.json` (and `generation_config.json` for EOS ids) of a checkpoint directory. */
export function loadModelConfig(dir: string): ModelConfig {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new InputError(`${dir}: no config.json (expected a Hugging Face checkpoint directory)`);
  const raw = readJson(file);
  const arch = (raw.architectures as string[] | undefined)?.[0];
  if (arch !== 'LlamaForCausalLM' && arch !== 'Gemma2ForCausalLM') {
    throw new InputError(
      `${file}: unsupported architecture ${arch ?? '(none)'} (supported: LlamaForCausalLM, Gemma2ForCausalLM)`,
    );
  }
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new InputError(`${file}: field ${key} must be a number, found ${shown(v)}`);
    return v;
  };
  // Sizes are positive integers and eps/scales positive: a config with rms_norm_eps -1 or 0 heads would
  // run and give NaN or garbage instead of an error.
  const positive = (key: string, v: number, integer: boolean): number => {
    if (!(v > 0) || (integer && !Number.isSafeInteger(v)))
      throw new InputError(`${file}: field ${key} must be a positive ${integer ? 'integer' : 'number'}, found ${v}`);
    return v;
  };
  const size = (key: string, fallback?: number): number => positive(key, num(key, fallback), true);
  const numHeads = size('num_attention_heads');
  const hiddenSize = size('hidden_size');
  const numLayers = size('num_hidden_layers');
  const numKvHeads = size('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0)
    throw new InputError(
      `${file}: num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`,
    );
  const headDim = raw.head_dim == null ? hiddenSize / numHeads : size('head_dim');
  if (!Number.isInteger(headDim))
    throw new InputError(
      `${file}: hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads}); give head_dim`,
    );
  const gemma = arch === 'Gemma2ForCausalLM';

  for (const [key, ok] of [
    ['pretraining_tp', (v: unknown) => v == null || v === 1],
    ['partial_rotary_factor', (v: unknown) => v == null || v === 1],
    ['use_bidirectional_attention', (v: unknown) => !v],
  ] as const) {
    if (!ok(raw[key])) throw new InputError(`${file}: unsupported option ${key}=${JSON.stringify(raw[key])}`);
  }
  const activation = gemma ? String(raw.hidden_activation ?? 'gelu_pytorch_tanh') : String(raw.hidden_act ?? 'silu');
  if (activation !== 'silu' && activation !== 'gelu_pytorch_tanh') {
    throw new InputError(`${file}: unsupported option activation "${activation}" (supported: silu, gelu_pytorch_tanh)`);
  }

  let slidingWindow: (number | null)[] = new Array(numLayers).fill(null);
  if (gemma) {
    const window = size('sliding_window', 4096);
    // Gemma-2 alternates sliding and full attention, starting with sliding at layer 0.
    const types =
      (raw.layer_types as string[] | undefined) ??
      Array.from({ length: numLayers }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
    if (types.length !== numLayers)
      throw new InputError(`${file}: layer_types has ${types.length} entries, expected ${numLayers}`);
    slidingWindow = types.map((t) => (t === 'sliding_attention' ? window : null));
  } else if (raw.use_sliding_window) {
    throw new InputError(`${file}: unsupported option use_sliding_window for LlamaForCausalLM`);
  }

  const softcap = (key: string, fallback: number): number | null =>
    raw[key] === null ? null : positive(key, num(key, fallback), false);

  let eos = asIds(raw.eos_token_id);
  const genFile = join(dir, 'generation_config.json');
  if (existsSync(genFile)) {
    const gen = readJson(genFile);
    if (gen.eos_token_id != null) eos = asIds(gen.eos_token_id);
  }

  return {
    architecture: arch,
    family: gemma ? 'gemma2' : 'llama',
    vocabSize: size('vocab_size'),
    hiddenSize,
    intermediateSize: size('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positive('rms_norm_eps', num('rms_norm_eps', 1e-6), false),
    rope: parseRope(raw, file),
    tieWordEmbeddings: Boolean(raw.tie_word_embeddings ?? gemma),
    attentionBias: Boolean(raw.attention_bias),
    mlpBias: Boolean(raw.mlp_bias),
    activation: activation === 'silu' ? 'silu' : 'gelu_tanh',
    attentionScale: gemma
      ? positive('query_pre_attn_scalar', num('query_pre_attn_scalar', 256), false) ** -0.5
      : headDim ** -0.5,
    scaleEmbeddings: gemma,
    normAddsOne: gemma,
    sandwichNorms: gemma,
    // Absent keys take transformers' Gemma-2 defaults (50 and 30); an explicit null turns capping off.
    attnLogitSoftcap: gemma ? softcap('attn_logit_softcapping', 50) : null,
    finalLogitSoftcap: gemma ? softcap('final_logit_softcapping', 30) : null,
    slidingWindow,
    eosTokenIds: eos,
    bosTokenId: (raw.bos_token_id as number | undefined) ?? null,
    padTokenId: (raw.pad_token_id as number | undefined) ?? null,
    // transformers' defaults when absent: LlamaConfig 2048, Gemma2Config 8192
    maxPositions: size('max_position_embeddings', gemma ? 8192 : 2048),
    fp8: fp8Scheme(raw, file),
  };
}
