import { bf16ToF32, f16ToF32 } from '../io/dtype.ts';

/** Element types an SAE's weight matrices are kept in (as stored in the file: no widening at load). */
export type WeightDtype = 'F32' | 'BF16' | 'F16';

/**
 * A row-major weight matrix kept in plain JS memory, outside the tfjs/WASM heap: bf16 and f16 stay 2 bytes
 * per element; slices are widened to f32 only when uploaded for compute.
 */
export class WeightMatrix {
  constructor(
    readonly dtype: WeightDtype,
    readonly rows: number,
    readonly cols: number,
    readonly data: Float32Array | Uint16Array,
  ) {
    if (data.length !== rows * cols) throw new Error(`WeightMatrix: ${data.length} elements for [${rows}, ${cols}]`);
    if ((dtype === 'F32') !== data instanceof Float32Array)
      throw new Error(`WeightMatrix: ${dtype} data in a ${data.constructor.name}`);
  }

  /** The rows at `indices`, in that order, widened to f32: [indices.length, cols]. */
  gatherRowsF32(indices: ArrayLike<number>): Float32Array<ArrayBuffer> {
    const c = this.cols;
    const out = new Float32Array(indices.length * c);
    for (let i = 0; i < indices.length; i++) this.widen(indices[i] * c, c, out, i * c);
    return out;
  }

  /** Columns [c0, c1) widened to f32: [rows, c1 − c0], row-major. */
  columnRangeF32(c0: number, c1: number): Float32Array<ArrayBuffer> {
    const n = c1 - c0;
    const out = new Float32Array(this.rows * n);
    for (let r = 0; r < this.rows; r++) this.widen(r * this.cols + c0, n, out, r * n);
    return out;
  }

  /** The columns at `indices`, widened to f32: [rows, indices.length], row-major. */
  gatherColumnsF32(indices: ArrayLike<number>): Float32Array<ArrayBuffer> {
    const n = indices.length;
    const raw = this.data instanceof Float32Array ? new Float32Array(this.rows * n) : new Uint16Array(this.rows * n);
    for (let r = 0; r < this.rows; r++) {
      for (let i = 0; i < n; i++) raw[r * n + i] = this.data[r * this.cols + indices[i]];
    }
    return this.widenAll(raw, new Float32Array(raw.length));
  }

  private widen(start: number, length: number, out: Float32Array<ArrayBuffer>, at: number): void {
    this.widenAll(this.data.subarray(start, start + length), out.subarray(at, at + length));
  }

  private widenAll(src: Float32Array | Uint16Array, dst: Float32Array<ArrayBuffer>): Float32Array<ArrayBuffer> {
    if (src instanceof Float32Array) dst.set(src);
    else if (this.dtype === 'BF16') bf16ToF32(src, dst);
    else f16ToF32(src, dst);
    return dst;
  }
}
