// How much of the residual stream clamping a set of latents to 0 removes: at a token, clamping S changes h by
// −Σ_{i∈S} f_i·W_dec[i] (the error term is kept), so the removed norm is ‖Σ_{i∈S} f_i·W_dec[i]‖. Measured on the
// off-topic contexts of a discovery run's store (the response tokens of its off-topic samples): where the
// detectors fire, and where a fair random control must remove as much.
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import type { ActsStore } from '../store/reader.ts';

/** Off-topic response tokens measured at most (a seeded sample beyond): bounds memory on real SAEs. */
export const MAX_NORM_TOKENS = 4000;

/** The codes of the measured tokens, by latent, and the decoder rows of the latents that fire on them. */
export interface OffTopicCodes {
  /** Per firing latent: the measured tokens it fires on (indices) and its codes there. */
  byLatent: Map<number, { tokens: Int32Array; values: Float32Array }>;
  dIn: number;
  /** Decoder row of a firing latent (d_in values). */
  row: (latent: number) => Float32Array;
  /** Off-topic response tokens in the store, and how many were measured. */
  tokens: { total: number; measured: number };
}

/**
 * The codes of the response tokens of the store's `off_topic` samples (at most MAX_NORM_TOKENS of them, a
 * seeded sample). `decoderRows(latents)` returns W_dec rows, row-major.
 */
export async function offTopicCodes(
  store: ActsStore,
  decoderRows: (latents: number[]) => Float32Array,
  dIn: number,
  seed: number,
): Promise<OffTopicCodes> {
  const s = store.samples;
  const span = s.spans.response;
  const keys: number[] = [];
  const width = Math.max(1, ...Array.from(s.n_tokens));
  for (let r = 0; r < s.n; r++)
    if (s.condition[r] === 'off_topic') for (let t = span.start[r]; t < span.end[r]; t++) keys.push(r * width + t);
  if (!keys.length)
    throw new InputError(
      `${store.dir}: no off-topic response tokens to measure the removed norm on (the random control matches it there)`,
    );
  if (keys.length > MAX_NORM_TOKENS) {
    const rng = new Rng(seed, 1);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [keys[i], keys[j]] = [keys[j], keys[i]];
    }
  }
  const kept = keys.slice(0, MAX_NORM_TOKENS);
  const slot = new Map(kept.map((k, i) => [k, i]));
  const tokens = new Map<number, number[]>();
  const values = new Map<number, number[]>();
  for await (const b of store.codeBatches()) {
    for (let i = 0; i < b.latent.length; i++) {
      const at = slot.get(b.row[i] * width + b.token[i]);
      if (at === undefined || b.value[i] === 0) continue;
      const l = b.latent[i];
      if (!tokens.has(l)) {
        tokens.set(l, []);
        values.set(l, []);
      }
      tokens.get(l)!.push(at);
      values.get(l)!.push(b.value[i]);
    }
  }
  const firing = [...tokens.keys()].sort((a, b) => a - b);
  const rows = firing.length ? decoderRows(firing) : new Float32Array(0);
  const index = new Map(firing.map((l, i) => [l, i]));
  return {
    byLatent: new Map(
      firing.map((l) => [l, { tokens: Int32Array.from(tokens.get(l)!), values: Float32Array.from(values.get(l)!) }]),
    ),
    dIn,
    row: (l) => {
      const i = index.get(l)!;
      return rows.subarray(i * dIn, (i + 1) * dIn);
    },
    tokens: { total: keys.length, measured: kept.length },
  };
}

/** Per token, Σ_{i∈set} f_i·W_dec[i], and the mean of its norm: kept up to date as latents are swapped in and out. */
export class RemovedNorm {
  private readonly sums: Float64Array[];
  private readonly norms: Float64Array;
  private total = 0;

  constructor(
    private readonly codes: OffTopicCodes,
    set: number[],
  ) {
    const n = codes.tokens.measured;
    this.sums = Array.from({ length: n }, () => new Float64Array(codes.dIn));
    for (const l of new Set(set)) this.apply(this.sums, l, 1);
    this.norms = Float64Array.from(this.sums, norm);
    this.total = this.norms.reduce((a, b) => a + b, 0);
  }

  /** Adds sign·f_l·W_dec[l] to the per-token sums where l fires. */
  private apply(sums: Float64Array[] | Map<number, Float64Array>, latent: number, sign: number): void {
    const c = this.codes.byLatent.get(latent);
    if (!c) return;
    const row = this.codes.row(latent);
    c.tokens.forEach((t, j) => {
      const y = sums instanceof Map ? sums.get(t)! : sums[t];
      const a = sign * c.values[j];
      for (let k = 0; k < y.length; k++) y[k] += a * row[k];
    });
  }

  /** Mean over the measured tokens of ‖Σ_{i∈set} f_i·W_dec[i]‖. */
  mean(): number {
    return this.total / this.norms.length;
  }

  /** The tokens where `out` or `into` fires, with copies of their sums after the swap. */
  private swapped(out: number, into: number): Map<number, Float64Array> {
    const touched = new Map<number, Float64Array>();
    for (const l of [out, into])
      for (const t of this.codes.byLatent.get(l)?.tokens ?? [])
        if (!touched.has(t)) touched.set(t, this.sums[t].slice());
    this.apply(touched, out, -1);
    this.apply(touched, into, 1);
    return touched;
  }

  /** The mean after replacing `out` (in the set) by `into` (not in it), without doing it. */
  meanIfSwapped(out: number, into: number): number {
    let total = this.total;
    for (const [t, s] of this.swapped(out, into)) total += norm(s) - this.norms[t];
    return total / this.norms.length;
  }

  swap(out: number, into: number): void {
    for (const [t, s] of this.swapped(out, into)) {
      const n = norm(s);
      this.total += n - this.norms[t];
      this.norms[t] = n;
      this.sums[t] = s;
    }
  }
}

function norm(v: Float64Array): number {
  let s = 0;
  for (let k = 0; k < v.length; k++) s += v[k] * v[k];
  return Math.sqrt(s);
}
