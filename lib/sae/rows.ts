import { bf16ToF32, f16ToF32 } from '../io/dtype.ts';

/** Element types an SAE's weight matrices are kept in (as stored in the file: no widening at load). */
export type WeightDtype = 'F32' | 'BF16' | 'F16';

/**
 * A latent-major weight matrix [d_sae, d] kept in plain JS memory, outside the tfjs/WASM heap: bf16 and
 * f16 stay 2 bytes per element; rows are widened to f32 only when a block is uploaded for compute.
 */
export class LatentRows {
  constructor(
    readonly dtype: WeightDtype,
    readonly rows: number,
    readonly cols: number,
    readonly data: Float32Array | Uint16Array,
  ) {
    if (data.length !== rows * cols) throw new Error(`LatentRows: ${data.length} elements for [${rows}, ${cols}]`);
    if ((dtype === 'F32') !== data instanceof Float32Array) throw new Error(`LatentRows: ${dtype} data in a ${data.constructor.name}`);
  }

  /** Rows [r0, r1) widened to f32, row-major. */
  rowsF32(r0: number, r1: number, out: Float32Array<ArrayBuffer> = new Float32Array((r1 - r0) * this.cols)): Float32Array<ArrayBuffer> {
    const src = this.data.subarray(r0 * this.cols, r1 * this.cols);
    return this.widen(src, out);
  }

  /** The rows at `indices`, in that order, widened to f32. */
  gatherF32(indices: ArrayLike<number>): Float32Array {
    const out = new Float32Array(indices.length * this.cols);
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i];
      this.widen(this.data.subarray(r * this.cols, (r + 1) * this.cols), out.subarray(i * this.cols, (i + 1) * this.cols));
    }
    return out;
  }

  private widen(src: Float32Array | Uint16Array, out: Float32Array<ArrayBuffer>): Float32Array<ArrayBuffer> {
    if (src instanceof Float32Array) out.set(src);
    else if (this.dtype === 'BF16') bf16ToF32(src, out);
    else f16ToF32(src, out);
    return out;
  }

  get byteLength(): number {
    return this.data.byteLength;
  }
}
