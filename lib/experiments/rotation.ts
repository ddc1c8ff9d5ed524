// The `rotation` random control: the ablated latents themselves are clamped (same encoder, so the same codes at
// the same tokens), but each latent's change is written along a rotated decoder row. With R = W_dec[ablated]
// (k × d_in) = C·Uᵀ, U an orthonormal basis of its row span (rank r), and Q (d_in × r) a seeded orthonormal
// basis of a random r-dimensional subspace orthogonal to that span, the rows become C·Qᵀ: their Gram matrix
// (so, at every token, the norm ‖Σ f_a·r_a‖ the clamp removes) is R's exactly, and none of the detectors'
// own directions is touched.
import { InputError } from '../errors.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import { Rng } from '../random.ts';

/** The rotated rows' file in the ablate run directory: tensor `set_j` [k, d_in] holds set j's rows. */
export const ROTATION_FILE = 'random_rotation.safetensors';
export const rotationTensor = (set: number): string => `set_${set}`;
/** The key an intervention along row `index` of set `set` carries (file:tensor:row, relative to the run directory). */
export const rotationRowKey = (set: number, index: number): string =>
  `${ROTATION_FILE}:${rotationTensor(set)}:${index}`;

/** A row whose norm falls below this share of its original norm once projected off the rows before it adds no dimension. */
const RANK_TOLERANCE = 1e-6;

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** v −= Σ_u ⟨v, u⟩·u over the orthonormal `basis`, twice (modified Gram-Schmidt, re-orthogonalised). */
function projectOff(v: Float64Array, basis: Float64Array[]): void {
  for (let pass = 0; pass < 2; pass++)
    for (const u of basis) {
      const c = dot(v, u);
      for (let i = 0; i < v.length; i++) v[i] -= c * u[i];
    }
}

/** An orthonormal basis of the span of `rows` (a row adding less than RANK_TOLERANCE of its norm is dropped). */
export function rowSpanBasis(rows: Float64Array[]): Float64Array[] {
  const basis: Float64Array[] = [];
  for (const row of rows) {
    const n0 = Math.sqrt(dot(row, row));
    const v = row.slice();
    projectOff(v, basis);
    const n = Math.sqrt(dot(v, v));
    if (n0 > 0 && n > RANK_TOLERANCE * n0) basis.push(v.map((x) => x / n));
  }
  return basis;
}

/** A standard normal draw (Box-Muller; 1 − u keeps the logarithm finite). */
function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
}

/**
 * R [k, d_in] (row-major) rotated off its own span with `rng`: C·Qᵀ as above. Q's columns are drawn one after
 * another, each d_in standard normals, then projected off span(R) and the columns before (twice). Refuses when
 * d_in < 2r: the complement has no room for r dimensions.
 */
export function rotatedRows(rows: Float32Array, dIn: number, rng: Rng): { rows: Float32Array; rank: number } {
  const k = rows.length / dIn;
  const R = Array.from({ length: k }, (_, i) => Float64Array.from(rows.subarray(i * dIn, (i + 1) * dIn)));
  const U = rowSpanBasis(R);
  const r = U.length;
  if (dIn < 2 * r)
    throw new InputError(
      `random control (rotation): the ${k} ablated latents' decoder rows span ${r} dimensions of d_in = ${dIn}; rotating them into the orthogonal complement needs d_in ≥ 2·${r} = ${2 * r} (use --random-match activity or none)`,
    );
  const Q: Float64Array[] = [];
  for (let j = 0; j < r; j++) {
    const g = Float64Array.from({ length: dIn }, () => gaussian(rng));
    projectOff(g, U);
    projectOff(g, Q);
    const n = Math.sqrt(dot(g, g));
    if (!(n > 0)) throw new Error('rotation: a Gaussian draw fell inside the span (probability 0)');
    Q.push(g.map((x) => x / n));
  }
  const out = new Float32Array(k * dIn);
  R.forEach((row, i) => {
    const y = new Float64Array(dIn);
    for (let j = 0; j < r; j++) {
      const c = dot(row, U[j]);
      for (let d = 0; d < dIn; d++) y[d] += c * Q[j][d];
    }
    out.set(y, i * dIn);
  });
  return { rows: out, rank: r };
}

/** Set j's rotated rows, from stream 2 + j of `seed` (as the other rules draw set j). */
export function rotationSets(
  rows: Float32Array,
  dIn: number,
  k: number,
  seed: number,
): { sets: Float32Array[]; rank: number } {
  const drawn = Array.from({ length: k }, (_, j) => rotatedRows(rows, dIn, new Rng(seed, 2 + j)));
  return { sets: drawn.map((d) => d.rows), rank: drawn[0]?.rank ?? 0 };
}

/** Writes the sets' rows (tensor set_j, [k, d_in] float32) atomically to `path`. */
export function writeRotationFile(path: string, sets: Float32Array[], dIn: number): void {
  writeSafetensors(
    path,
    Object.fromEntries(sets.map((rows, j) => [rotationTensor(j), { data: rows, shape: [rows.length / dIn, dIn] }])),
  );
}
