import type { Backend } from '../backend.ts';
import * as tf from '@tensorflow/tfjs';
import { type Activation, architecture, type LatentVectors } from './architectures/index.ts';
import type { WeightMatrix } from './matrix.ts';

export type { Activation } from './architectures/index.ts';

export type SaeFormat = 'saelens' | 'gemmascope' | 'goodfire' | 'safetensors' | 'memory';

/** Where an SAE came from, for provenance. */
export interface SaeInfo {
  format: SaeFormat;
  path: string;
  /** Element type of the weight matrices as stored (kept in memory in that type). */
  weightDtype: string;
  /** Every file read, with its size and streamed sha256 (null when hashing was switched off). */
  files: { path: string; bytes: number; sha256: string | null }[];
  /** The hook point the SAE names (SAELens cfg.json hook_name, or a Gemma Scope / Goodfire name), when it names one. */
  hookName?: string;
  /** Where hookName came from. */
  hookSource?: string;
}

/** The parameters of an SAE, latent-major, in JS memory. */
export interface SaeParts {
  encoder: WeightMatrix; // [d_in, d_sae] = W_enc
  decoder: WeightMatrix; // [d_sae, d_in] = W_dec
  bDec: Float32Array;
  activation: Activation;
  /** The per-latent vectors [d_sae] the architecture reads (b_enc, threshold, b_gate, …), by its keys. */
  vectors: LatentVectors;
  applyBDecToInput: boolean;
  info: SaeInfo;
}

export interface SaeComputeOptions {
  /** Target size of one f32 encoder block uploaded to the backend (default 64 MiB, less where a WebGPU binding holds less). */
  blockBytes?: number;
  /** How many bytes of f32 encoder blocks may stay resident on the backend between calls (default 1 GiB). */
  residentBytes?: number;
}

/** The encoder blocks for a backend: 64 MiB, less where one WebGPU binding holds less. */
export function saeComputeOptions(backend: Backend): SaeComputeOptions {
  return { blockBytes: Math.min(64 * MiB, backend.maxBindingBytes) };
}

const MiB = 1 << 20;

/**
 * A loaded SAE. Weights live in JS memory (bf16 stays bf16); the encoder is uploaded to tfjs in latent
 * blocks, the first `residentBytes` worth kept between calls, the rest uploaded per call and freed, so an
 * 8,192 × 65,536 SAE runs inside one 4 GiB WASM heap. Call dispose() to free the resident blocks.
 */
export class Sae {
  readonly dIn: number;
  readonly dSae: number;
  readonly encoder: WeightMatrix;
  readonly decoder: WeightMatrix;
  readonly bDec: Float32Array;
  readonly activation: Activation;
  readonly vectors: LatentVectors;
  readonly applyBDecToInput: boolean;
  readonly info: SaeInfo;
  /** Latents per encoder block. */
  readonly blockLatents: number;
  private readonly residentBlocks: number;
  private readonly resident = new Map<number, tf.Tensor2D>();

  constructor(parts: SaeParts, opts: SaeComputeOptions = {}) {
    this.encoder = parts.encoder;
    this.decoder = parts.decoder;
    this.bDec = parts.bDec;
    this.activation = parts.activation;
    this.vectors = parts.vectors;
    this.applyBDecToInput = parts.applyBDecToInput;
    this.info = parts.info;
    this.dIn = parts.encoder.rows;
    this.dSae = parts.encoder.cols;
    const bad = (why: string) => {
      throw new Error(`Sae(${parts.info.path}): ${why}`);
    };
    if (parts.decoder.rows !== this.dSae || parts.decoder.cols !== this.dIn)
      bad(
        `decoder [${parts.decoder.rows}, ${parts.decoder.cols}] does not match encoder [${this.dIn}, ${this.dSae}] transposed`,
      );
    if (parts.bDec.length !== this.dIn) bad('b_dec length does not match d_in');
    for (const key of Object.keys(architecture(parts.activation).vectors))
      if (parts.vectors[key]?.length !== this.dSae) bad(`${parts.activation.kind} needs ${key} of length d_sae`);
    const blockBytes = opts.blockBytes ?? 64 * MiB;
    const residentBytes = opts.residentBytes ?? 1024 * MiB;
    this.blockLatents = Math.max(1, Math.min(this.dSae, Math.floor(blockBytes / (4 * this.dIn))));
    this.residentBlocks = Math.floor(residentBytes / (4 * this.dIn * this.blockLatents));
  }

  get nBlocks(): number {
    return Math.ceil(this.dSae / this.blockLatents);
  }

  /** Latent range [start, end) of block b. */
  blockRange(b: number): [number, number] {
    return [b * this.blockLatents, Math.min(this.dSae, (b + 1) * this.blockLatents)];
  }

  /**
   * Runs `fn` with encoder block b as an f32 tensor [d_in, latents] (untransposed, XNNPACK's fast matMul
   * path). Resident blocks are created once and kept; others are uploaded for this call and disposed after.
   */
  withEncoderBlock<T>(b: number, fn: (block: tf.Tensor2D) => T): T {
    const keep = b < this.residentBlocks;
    let block = this.resident.get(b);
    if (!block) {
      const [r0, r1] = this.blockRange(b);
      block = tf.tensor2d(this.encoder.columnRangeF32(r0, r1), [this.dIn, r1 - r0]);
      // kept out of any enclosing tf.tidy (a steering hook runs inside the forward pass's tidy): resident blocks outlive it
      if (keep) this.resident.set(b, tf.keep(block));
    }
    try {
      return fn(block);
    } finally {
      if (!keep) block.dispose();
    }
  }

  /** Frees the resident encoder blocks (the SAE stays usable; blocks are re-uploaded on demand). */
  dispose(): void {
    for (const t of this.resident.values()) t.dispose();
    this.resident.clear();
  }
}
