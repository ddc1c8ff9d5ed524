// A checkpoint's weights as stored: f32, bf16 or f16 matrices, or FP8 E4M3 ones with their scales
// (compressed-tensors, the layout published FP8 Llama checkpoints use), checked (shape, finiteness) and with a
// LoRA adapter applied as they are read. Each device then holds them in the dtype the model runs in
// (weightdtype.ts converts: widen, round, quantize).
import { InputError } from '../errors.ts';
import { firstNonFinite, nonFiniteName } from '../io/dtype.ts';
import { openSafetensors, type TensorSource } from '../io/safetensors.ts';
import type { LoraAdapter } from './adapter.ts';
import type { ModelConfig } from './config.ts';
import type { WeightDtype } from './kernels.ts';
import { matrixF32, type StoredMatrix } from './weightdtype.ts';

/** Checkpoint names of layer i's parameters (Linear entries are prefixes of `.weight` / `.bias`). */
export function layerNames(cfg: ModelConfig, i: number) {
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

/**
 * Non-parameters some checkpoints carry that transformers ignores on load too: rotary inv_freq buffers, and an
 * FP8 checkpoint's activation scales (the weights are dequantized here; activations stay f32).
 */
const IGNORED_TENSOR = /\.rotary_emb\.inv_freq$|\.input_scale$/;

/**
 * Refuses, before any weight is read, a checkpoint holding tensors the config's model does not use: a
 * config.json with fewer layers (or other options) than the weights would otherwise run another model silently.
 * A stored lm_head of a tied model and rotary inv_freq buffers are ignored, as transformers ignores them.
 */
function checkAllUsed(src: TensorSource, dir: string, cfg: ModelConfig): void {
  const used = new Set(['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight', 'lm_head.weight_scale']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const names = layerNames(cfg, i);
    for (const [key, name] of Object.entries(names)) {
      if (name === null) continue;
      if ((LINEARS as readonly string[]).includes(key)) {
        used.add(`${name}.weight`);
        used.add(`${name}.weight_scale`);
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

/** What the weight loaders read: a checkpoint, or weights made some other way (bench/forward/sizes.ts). */
export type WeightSource = Pick<Checkpoint, 'matrix' | 'vector' | 'headName' | 'finish'>;

export class Checkpoint {
  private readonly src: TensorSource;

  constructor(
    private readonly dir: string,
    private readonly cfg: ModelConfig,
    private readonly adapter: LoraAdapter | null,
  ) {
    this.src = openSafetensors(dir);
    try {
      checkAllUsed(this.src, dir, cfg);
      adapter?.checkNames((t) => this.src.has(t));
    } catch (err) {
      this.src.close();
      throw err;
    }
  }

  has(name: string): boolean {
    return this.src.has(name);
  }

  /** The dtype the checkpoint stores its linear weights in (FP8 when its config declares it, else layer 0's q_proj's). */
  storedDtype(): WeightDtype {
    if (this.cfg.fp8) return 'fp8';
    const kind = this.src.info('model.layers.0.self_attn.q_proj.weight').dtype;
    return kind === 'F8_E4M3' ? 'fp8' : kind === 'BF16' ? 'bf16' : kind === 'F16' ? 'f16' : 'f32';
  }

  private info(name: string, shape: number[]) {
    if (!this.src.has(name)) throw new InputError(`${this.dir}: tensor ${name} not found in the checkpoint`);
    const t = this.src.info(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new InputError(`${this.dir}: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    return t;
  }

  /** A weight [rows, cols] (torch layout) as stored, with any LoRA change applied (then in f32). */
  async matrix(name: string, rows: number, cols: number): Promise<StoredMatrix> {
    const t = this.info(name, [rows, cols]);
    let m: StoredMatrix;
    if (t.dtype === 'F8_E4M3') m = this.fp8(name, rows, cols);
    else if (t.dtype === 'BF16' || t.dtype === 'F16') {
      const raw = this.src.readBytes(name);
      const bits = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      this.checkFinite(name, bits, t.dtype);
      m = { kind: t.dtype === 'BF16' ? 'bf16' : 'f16', rows, cols, bits };
    } else {
      const data = this.src.read(name).data;
      this.checkFinite(name, data, 'F32');
      m = { kind: 'f32', rows, cols, data };
    }
    if (!this.adapter?.changes(name)) return m;
    const shape = [rows, cols];
    const w = this.adapter.replace(name, matrixF32(m), shape);
    const kind = this.adapter.hasLowRank(name, 'linear') ? 'linear' : 'embedding';
    if (!this.adapter.hasLowRank(name, kind)) return { kind: 'f32', rows, cols, data: w };
    if (kind === 'embedding') return { kind: 'f32', rows, cols, data: this.adapter.addLowRank(name, w, shape) };
    // A linear's low-rank change, computed on the backend ([cols, rows]) and added in torch layout.
    const delta = this.adapter.deviceDelta(name, shape, 0, rows)!;
    const d = (await delta.data()) as Float32Array;
    delta.dispose();
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[r * cols + c] += d[c * rows + r];
    return { kind: 'f32', rows, cols, data: w };
  }

  private fp8(name: string, rows: number, cols: number): StoredMatrix {
    const scheme = this.cfg.fp8;
    if (!scheme)
      throw new InputError(`${this.dir}: tensor ${name} is F8_E4M3 but config.json has no quantization_config`);
    const scaleName = name.replace(/\.weight$/, '.weight_scale');
    if (!this.src.has(scaleName))
      throw new InputError(`${this.dir}: tensor ${name} is FP8 but ${scaleName} is missing`);
    const scale = this.src.read(scaleName).data;
    const want = scheme.strategy === 'channel' ? rows : 1;
    if (scale.length !== want)
      throw new InputError(
        `${this.dir}: tensor ${scaleName} has ${scale.length} values, expected ${want} (quantization strategy ${scheme.strategy})`,
      );
    this.checkFinite(scaleName, scale, 'F32');
    const raw = this.src.readBytes(name);
    const bytes = raw.slice();
    const nan = bytes.findIndex((b) => (b & 0x7f) === 0x7f);
    if (nan >= 0)
      throw new InputError(`${this.dir}: tensor ${name}: NaN at element ${nan}; model weights must be finite`);
    return { kind: 'fp8', rows, cols, bytes, scale };
  }

  /** A vector (norm weight, bias) in f32. */
  vector(name: string, n: number): Float32Array {
    this.info(name, [n]);
    const data = this.src.read(name).data;
    this.checkFinite(name, data, 'F32');
    return this.adapter ? this.adapter.replace(name, data, [n]) : data;
  }

  private checkFinite(name: string, data: Float32Array | Uint16Array, dtype: 'F32' | 'BF16' | 'F16'): void {
    const bad = firstNonFinite(data, dtype);
    if (bad < 0) return;
    const v = data instanceof Float32Array ? nonFiniteName(data[bad]) : 'NaN or Inf';
    throw new InputError(`${this.dir}: tensor ${name}: ${v} at element ${bad}; model weights must be finite`);
  }

  /** The lm_head weight's name, or null when the model ties it to the embeddings. */
  headName(): string | null {
    const name = this.cfg.tieWordEmbeddings || !this.src.has('lm_head.weight') ? null : 'lm_head.weight';
    if (!this.cfg.tieWordEmbeddings && !name)
      throw new InputError(`${this.dir}: tensor lm_head.weight not found (tie_word_embeddings is false)`);
    return name;
  }

  /** Checks the adapter was applied whole (call when every tensor has been read). */
  finish(): void {
    this.adapter?.checkAllUsed();
  }

  close(): void {
    this.src.close();
  }
}
