// Sparse per-sample vectors (CSR) and pooling of per-token SAE codes over a token span.
import type { CodeBatch } from '../store/schema.ts';

/** Pooled values per sample in CSR form: sample r's entries are [indptr[r], indptr[r+1]). Absent = 0. */
export interface PooledCodes {
  nSamples: number;
  dSae: number;
  indptr: Int32Array;
  latents: Int32Array;
  values: Float64Array;
}

export type PoolMode = 'max' | 'mean';

/**
 * Pools per-token codes over each sample's span [start, end) (tokens outside are ignored; a sample
 * with an empty or missing span pools to nothing and should be excluded by the caller).
 * Streams: rows may arrive in any order, but memory stays at the pooled size when each sample's rows
 * are contiguous (what the store writer produces). Implicit zeros count: max is max(non-zeros, 0)
 * whenever some span token is zero for that latent; mean divides by the span length.
 */
export class Pooler {
  private readonly scratch: Float64Array;
  private readonly counts: Int32Array;
  private readonly touched: Int32Array;
  private nTouched = 0;
  private current = -1;
  private readonly segRow: number[] = [];
  private readonly segLatents: Int32Array[] = [];
  private readonly segValues: Float64Array[] = [];
  private readonly segCounts: Int32Array[] = [];

  constructor(
    readonly nSamples: number,
    readonly dSae: number,
    readonly start: Int32Array,
    readonly end: Int32Array,
    readonly mode: PoolMode,
  ) {
    this.scratch = new Float64Array(dSae);
    this.counts = new Int32Array(dSae);
    this.touched = new Int32Array(dSae);
  }

  add(batch: CodeBatch): void {
    const { row, token, latent, value } = batch;
    const max = this.mode === 'max';
    for (let i = 0; i < row.length; i++) {
      const r = row[i];
      const t = token[i];
      if (t < this.start[r] || t >= this.end[r]) continue;
      if (r !== this.current) this.flush(r);
      const l = latent[i];
      if (l < 0 || l >= this.dSae) throw new RangeError(`latent ${l} outside [0, ${this.dSae})`);
      const v = value[i];
      if (this.counts[l] === 0) {
        this.touched[this.nTouched++] = l;
        this.scratch[l] = v;
      } else this.scratch[l] = max ? Math.max(this.scratch[l], v) : this.scratch[l] + v;
      this.counts[l]++;
    }
  }

  private flush(next: number): void {
    if (this.current >= 0 && this.nTouched > 0) {
      const lat = this.touched.slice(0, this.nTouched);
      const val = new Float64Array(this.nTouched);
      const cnt = new Int32Array(this.nTouched);
      for (let k = 0; k < this.nTouched; k++) {
        const l = lat[k];
        val[k] = this.scratch[l];
        cnt[k] = this.counts[l];
        this.counts[l] = 0;
      }
      this.segRow.push(this.current);
      this.segLatents.push(lat);
      this.segValues.push(val);
      this.segCounts.push(cnt);
    }
    this.nTouched = 0;
    this.current = next;
  }

  /** Merges segments per sample (a sample's rows may have been split) and returns sorted CSR. */
  finish(): PooledCodes {
    this.flush(-1);
    const max = this.mode === 'max';
    const bySample: number[][] = Array.from({ length: this.nSamples }, () => []);
    this.segRow.forEach((r, s) => bySample[r].push(s));
    const indptr = new Int32Array(this.nSamples + 1);
    const outLat: number[] = [];
    const outVal: number[] = [];
    for (let r = 0; r < this.nSamples; r++) {
      const spanLength = this.end[r] - this.start[r];
      this.nTouched = 0;
      for (const s of bySample[r]) {
        const lat = this.segLatents[s];
        const val = this.segValues[s];
        const cnt = this.segCounts[s];
        for (let k = 0; k < lat.length; k++) {
          const l = lat[k];
          if (this.counts[l] === 0) {
            this.touched[this.nTouched++] = l;
            this.scratch[l] = val[k];
          } else this.scratch[l] = max ? Math.max(this.scratch[l], val[k]) : this.scratch[l] + val[k];
          this.counts[l] += cnt[k];
        }
      }
      const lats = this.touched.subarray(0, this.nTouched).sort();
      for (const l of lats) {
        const hasZeros = this.counts[l] < spanLength;
        const v = max ? (hasZeros ? Math.max(this.scratch[l], 0) : this.scratch[l]) : this.scratch[l] / spanLength;
        this.counts[l] = 0;
        if (v === 0) continue;
        outLat.push(l);
        outVal.push(v);
      }
      indptr[r + 1] = outLat.length;
    }
    return {
      nSamples: this.nSamples,
      dSae: this.dSae,
      indptr,
      latents: Int32Array.from(outLat),
      values: Float64Array.from(outVal),
    };
  }
}

/** Builds pooled CSR from dense rows (tests, small data): zeros are dropped. */
export function pooledFromDense(rows: ArrayLike<number>[], dSae: number): PooledCodes {
  const indptr = new Int32Array(rows.length + 1);
  const lat: number[] = [];
  const val: number[] = [];
  rows.forEach((row, r) => {
    for (let l = 0; l < dSae; l++) {
      if (row[l] === 0) continue;
      lat.push(l);
      val.push(row[l]);
    }
    indptr[r + 1] = lat.length;
  });
  return { nSamples: rows.length, dSae, indptr, latents: Int32Array.from(lat), values: Float64Array.from(val) };
}
