// PEFT LoRA adapters applied without merging files: each targeted weight W becomes W + s·B·A as it is read
// (s = lora_alpha / r, or lora_alpha / √r with rsLoRA), so one base checkpoint serves many adapters and the
// result runs on every backend. The layout is peft's save_pretrained: adapter_config.json +
// adapter_model.safetensors with tensors `base_model.model.<module>.lora_A.weight` [r, in] and
// `.lora_B.weight` [out, r] (embeddings: `lora_embedding_A` [r, vocab], `lora_embedding_B` [d, r]); other
// tensors (modules_to_save, saved embedding layers) replace the base tensor of the same name.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { readJsonObject } from '../io/json.ts';
import { type F32Tensor, SafetensorsFile } from '../io/safetensors.ts';
import type { ModelConfig } from './config.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** What the adapter changes, for messages and provenance. */
export interface AdapterSummary {
  path: string;
  r: number;
  loraAlpha: number;
  rslora: boolean;
  /** Module names (`model.layers.0.self_attn.q_proj`, …) with a LoRA pair. */
  modules: string[];
  /** Base tensors replaced whole (modules_to_save). */
  replaced: string[];
}

interface LoraPair {
  kind: 'linear' | 'embedding';
  a: F32Tensor;
  b: F32Tensor;
  scale: number;
}

/**
 * Config fields that change what the saved tensors mean: a non-default value is refused (the value each field
 * must have, and why). Fields that only steer training or initialisation are ignored.
 */
const REFUSED: [field: string, ok: (v: unknown) => boolean, why: string][] = [
  ['use_dora', (v) => !v, 'DoRA rescales each weight column by a learned magnitude'],
  ['lora_bias', (v) => !v, 'a bias on lora_B'],
  ['bias', (v) => v == null || v === 'none', 'trained biases (bias="all" or "lora_only")'],
  ['fan_in_fan_out', (v) => !v, 'fan_in_fan_out (Conv1D weight layout, GPT-2 style)'],
  ['use_qalora', (v) => !v, 'QA-LoRA (pools the input in groups)'],
  ['layer_replication', (v) => v == null, 'layer replication'],
  ['target_parameters', (v) => v == null || (Array.isArray(v) && v.length === 0), 'LoRA on raw parameters'],
  ['trainable_token_indices', (v) => v == null, 'trainable token rows'],
  ['alora_invocation_tokens', (v) => v == null, 'activated LoRA (aLoRA acts only after its invocation tokens)'],
  ['velora_config', (v) => v == null, 'VeLoRA'],
  ['monteclora_config', (v) => v == null, 'MonteCLoRA'],
  ['use_bdlora', (v) => v == null || v === false, 'block-diagonal LoRA'],
  ['arrow_config', (v) => v == null, 'Arrow routing between adapters'],
  ['kasa_config', (v) => v == null, 'KaSA'],
  ['megatron_config', (v) => v == null, 'Megatron-parallel LoRA layers'],
  [
    'init_lora_weights',
    // These initialisations leave the base weights as they are; PiSSA, OLoRA, CorDA, LoftQ and LoRA-GA change them.
    (v) => v == null || typeof v === 'boolean' || ['gaussian', 'eva', 'orthogonal', 'mica'].includes(String(v)),
    'an initialisation that changes the base weights (PiSSA, OLoRA, CorDA, LoftQ, LoRA-GA): save the adapter converted to plain LoRA (path_initial_model_for_weight_conversion)',
  ],
];

/** peft's pattern lookup: the first key matching the end of a module name at a dot boundary. */
function patternValue(pattern: Record<string, unknown>, module: string, fallback: number, field: string): number {
  for (const [key, value] of Object.entries(pattern)) {
    if (new RegExp(`^(.*\\.)?(${key})$`).test(module)) {
      if (typeof value !== 'number' || !(value > 0))
        throw new InputError(`${field}.${key}: expected a positive number, found ${JSON.stringify(value)}`);
      return value;
    }
  }
  return fallback;
}

/** Whether peft's target_modules (a list of name suffixes, or a regex over the whole name) selects a module. */
function targeted(targets: unknown, module: string): boolean {
  if (targets == null) return true;
  if (typeof targets === 'string') return targets === 'all-linear' || new RegExp(`^(?:${targets})$`).test(module);
  return (targets as string[]).some((t) => module === t || module.endsWith(`.${t}`));
}

/** The base tensor name a PEFT module name refers to (`base_model.model.` dropped, `.base_layer` removed). */
function baseName(key: string): string {
  return key.replace(/^base_model\.model\./, '').replace('.base_layer.', '.');
}

/**
 * A LoRA adapter ready to apply to a checkpoint's tensors as they are read: in JS (`apply`: the merged
 * checkpoint, embeddings, replaced tensors) or on the backend for linear weights (`deviceDelta`).
 */
export class LoraAdapter {
  readonly summary: AdapterSummary;
  private readonly pairs = new Map<string, LoraPair>();
  private readonly replacements = new Map<string, F32Tensor>();
  private readonly used = new Set<string>();

  constructor(
    readonly dir: string,
    config: ModelConfig,
  ) {
    const cfgPath = join(dir, ADAPTER_CONFIG);
    if (!existsSync(cfgPath))
      throw new InputError(`--adapter ${dir}: no ${ADAPTER_CONFIG} (expected a PEFT adapter directory)`);
    const raw = readJsonObject(cfgPath);
    const type = raw.peft_type ?? 'LORA';
    if (type !== 'LORA')
      throw new InputError(`${cfgPath}: peft_type ${JSON.stringify(type)} is not supported (only LORA adapters)`);
    for (const [field, ok, why] of REFUSED) {
      if (!ok(raw[field]))
        throw new InputError(
          `${cfgPath}: ${field}=${JSON.stringify(raw[field])} is not supported (${why}); only plain LoRA and rsLoRA adapters are applied`,
        );
    }
    const r = raw.r,
      alpha = raw.lora_alpha;
    if (typeof r !== 'number' || !(r > 0))
      throw new InputError(`${cfgPath}: r: expected a positive integer, found ${r}`);
    if (typeof alpha !== 'number' || !Number.isFinite(alpha))
      throw new InputError(`${cfgPath}: lora_alpha: expected a number, found ${alpha}`);
    const rslora = Boolean(raw.use_rslora);
    const rankPattern = (raw.rank_pattern ?? {}) as Record<string, unknown>;
    const alphaPattern = (raw.alpha_pattern ?? {}) as Record<string, unknown>;

    const weightsPath = join(dir, ADAPTER_WEIGHTS);
    if (!existsSync(weightsPath)) {
      const bin = existsSync(join(dir, 'adapter_model.bin'));
      throw new InputError(
        `--adapter ${dir}: no ${ADAPTER_WEIGHTS}${bin ? ' (adapter_model.bin, a pickle, is not read: re-save with save_pretrained(..., safe_serialization=True))' : ''}`,
      );
    }
    const file = new SafetensorsFile(weightsPath);
    try {
      const parts = new Map<string, { a?: F32Tensor; b?: F32Tensor; kind: LoraPair['kind'] }>();
      for (const key of file.names()) {
        const m = /^(.*)\.(lora_A\.weight|lora_B\.weight|lora_embedding_A|lora_embedding_B)$/.exec(key);
        if (!m) {
          if (/\.lora_|lora_magnitude_vector/.test(key))
            throw new InputError(`${weightsPath}: tensor ${key} is not a plain LoRA tensor (DoRA or a LoRA variant)`);
          this.replacements.set(baseName(key), file.read(key));
          continue;
        }
        const module = baseName(m[1]);
        const kind = m[2].startsWith('lora_embedding') ? 'embedding' : 'linear';
        const part = parts.get(module) ?? { kind };
        part[m[2].includes('A') ? 'a' : 'b'] = file.read(key);
        parts.set(module, part);
      }
      for (const [module, { a, b, kind }] of parts) {
        if (!a || !b) throw new InputError(`${weightsPath}: module ${module} has lora_${a ? 'B' : 'A'} missing`);
        if (!targeted(raw.target_modules, module))
          throw new InputError(
            `${weightsPath}: module ${module} has LoRA weights but is not in target_modules ${JSON.stringify(raw.target_modules)}`,
          );
        const rank = a.shape[0];
        // embeddings: A [r, vocab], B [d, r]; linears: A [r, in], B [out, r]
        if (a.shape.length !== 2 || b.shape.length !== 2 || b.shape[1] !== rank)
          throw new InputError(
            `${weightsPath}: module ${module}: lora_A [${a.shape}] and lora_B [${b.shape}] disagree on r`,
          );
        const wantRank = patternValue(rankPattern, module, r, 'rank_pattern');
        if (rank !== wantRank)
          throw new InputError(`${weightsPath}: module ${module} has rank ${rank}, the config says ${wantRank}`);
        const moduleAlpha = patternValue(alphaPattern, module, alpha, 'alpha_pattern');
        this.pairs.set(module, { kind, a, b, scale: rslora ? moduleAlpha / Math.sqrt(rank) : moduleAlpha / rank });
      }
    } finally {
      file.close();
    }
    if (this.pairs.size === 0 && this.replacements.size === 0)
      throw new InputError(`${weightsPath}: no LoRA tensors (expected <module>.lora_A.weight and .lora_B.weight)`);
    if (config.tieWordEmbeddings) {
      const touched = [...this.pairs.keys(), ...[...this.replacements.keys()].map((k) => k.replace(/\.weight$/, ''))];
      const tied = touched.filter((m) => m === 'lm_head' || m === 'model.embed_tokens');
      if (tied.length)
        throw new InputError(
          `--adapter ${dir}: changes ${tied.join(' and ')}, but the model ties its input and output embeddings; peft's merged and unmerged models differ there, so this is not applied`,
        );
    }
    this.summary = {
      path: dir,
      r,
      loraAlpha: alpha,
      rslora,
      modules: [...this.pairs.keys()].sort(),
      replaced: [...this.replacements.keys()].sort(),
    };
  }

  /** Whether reading `name` would change it. */
  changes(name: string): boolean {
    return this.replacements.has(name) || this.pairs.has(name.replace(/\.weight$/, ''));
  }

  /** The base tensor `name` (torch layout, f32) with the adapter applied in JS: changed in place or replaced. */
  apply(name: string, w: Float32Array, shape: number[]): Float32Array {
    return this.addLowRank(name, this.replace(name, w, shape), shape);
  }

  /** The tensor, or the adapter's replacement for it (modules_to_save, saved embedding layers). */
  replace(name: string, w: Float32Array, shape: number[]): Float32Array {
    const replacement = this.replacements.get(name);
    if (!replacement) return w;
    this.used.add(name);
    if (replacement.shape.join() !== shape.join())
      throw new InputError(
        `${this.dir}: tensor ${name} has shape [${replacement.shape}] in the adapter, [${shape}] in the model`,
      );
    return replacement.data.slice();
  }

  /** The LoRA pair of the module whose weight is `name`, checked against the weight's torch shape. */
  private pairFor(name: string, shape: number[]): LoraPair | null {
    const module = name.replace(/\.weight$/, '');
    const pair = this.pairs.get(module);
    if (!pair) return null;
    this.used.add(module);
    const { a, b } = pair;
    // linear: A [r, in], B [out, r] for W [out, in]; embedding: A [r, vocab], B [d, r] for E [vocab, d]
    const [rows, cols] = pair.kind === 'linear' ? [b.shape[0], a.shape[1]] : [a.shape[1], b.shape[0]];
    if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols)
      throw new InputError(
        `${this.dir}: module ${module}: lora_A [${a.shape}] and lora_B [${b.shape}] do not fit the weight [${shape}]`,
      );
    return pair;
  }

  /** Whether the module of weight `name` has a LoRA pair of this kind. */
  hasLowRank(name: string, kind: LoraPair['kind']): boolean {
    return this.pairs.get(name.replace(/\.weight$/, ''))?.kind === kind;
  }

  /** Adds s·B·A (linear) or s·(B·A)ᵀ (embedding) to a torch-layout weight in JS, in place. */
  addLowRank(name: string, w: Float32Array, shape: number[]): Float32Array {
    const pair = this.pairFor(name, shape);
    if (!pair) return w;
    const { a, b, scale } = pair;
    const r = a.shape[0];
    const [rows, cols] = shape;
    // w[i, j] += s·Σ_k U[i, k]·V[k, j], with U[i, k] = B[i, k], V = A (linear) or U[i, k] = A[k, i], V = Bᵀ (embedding)
    const v = pair.kind === 'linear' ? a.data : transpose(b.data, cols, r);
    for (let i = 0; i < rows; i++) {
      const row = w.subarray(i * cols, (i + 1) * cols);
      for (let k = 0; k < r; k++) {
        const c = scale * (pair.kind === 'linear' ? b.data[i * r + k] : a.data[k * rows + i]);
        if (c === 0) continue;
        const vk = v.subarray(k * cols, (k + 1) * cols);
        for (let j = 0; j < cols; j++) row[j] += c * vk[j];
      }
    }
    return w;
  }

  /**
   * The change to columns [o0, o1) of a linear weight held transposed on the backend ([in, out], as
   * lib/model/weights.ts stores it): s·Aᵀ·B[o0:o1]ᵀ, computed on the device. Null when the module has no pair.
   */
  deviceDelta(name: string, shape: number[], o0: number, o1: number): tf.Tensor2D | null {
    const pair = this.pairFor(name, shape);
    if (!pair) return null;
    const { a, b, scale } = pair;
    const r = a.shape[0];
    return tf.tidy(() => {
      const A = tf.tensor2d(a.data, [r, a.shape[1]]);
      const B = tf.tensor2d(b.data.slice(o0 * r, o1 * r), [o1 - o0, r]);
      return tf.matMul(A, B, true, true).mul(scale) as tf.Tensor2D;
    });
  }

  /** Refuses, before any weight is read, an adapter naming tensors the checkpoint does not have. */
  checkNames(has: (tensor: string) => boolean): void {
    this.refuseMissing([...this.pairs.keys()].map((m) => `${m}.weight`).concat([...this.replacements.keys()]), has);
  }

  /** Refuses an adapter whose modules the model never read (present in the file but unused by the model). */
  checkAllUsed(): void {
    const all = [...this.pairs.keys(), ...this.replacements.keys()];
    this.refuseMissing(all, (k) => this.used.has(k));
  }

  private refuseMissing(names: string[], ok: (name: string) => boolean): void {
    const left = names.filter((n) => !ok(n));
    if (left.length)
      throw new InputError(
        `--adapter ${this.dir}: the model has no tensor for ${left.slice(0, 5).join(', ')}${left.length > 5 ? ` (and ${left.length - 5} more)` : ''} (an adapter for another architecture or size?)`,
      );
  }
}

/** The transpose of a row-major [rows, cols] matrix. */
function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j];
  return out;
}

export function loadAdapter(dir: string, config: ModelConfig): LoraAdapter {
  return new LoraAdapter(dir, config);
}
