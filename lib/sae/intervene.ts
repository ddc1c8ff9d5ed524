import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { codeColumn, encodeSparse, saeInput } from './encode.ts';
import { architecture } from './architectures/index.ts';
import type { PerLatent } from './architectures/types.ts';
import type { Sae } from './sae.ts';

/** One intervention on one latent: `add` v to its code, or `clamp` it to v (`clamp 0` = zero-ablation). */
export interface InterventionSpec {
  latent: number;
  value: number;
  mode: 'add' | 'clamp';
  /**
   * Write the latent's change along `values` (d_in) instead of W_dec[latent] (the codes are still the SAE's):
   * the random control's rotated rows. Specs with the same `key` carry the same row; a stored record keeps
   * only the key (e.g. `random_rotation.safetensors:set_0:3`), so `values` must be filled in to apply it.
   */
  decoderRow?: { key: string; values?: ArrayLike<number> };
}

/**
 * Rewrites the activation h [tokens, d_in] at the steering hook point. Resolves to a new tensor (async for
 * every architecture: a TopK clamp reads codes back); the caller keeps ownership of h and owns the result
 * (dispose both as usual). Holds no tensors between calls.
 */
export type ResidualEdit = (h: tf.Tensor2D) => Promise<tf.Tensor2D>;

/**
 * Per (latent, decoder row), the net effect of its interventions applied in list order: f' = clamped ? c : f + c,
 * written along the row (`row` null: W_dec[latent]).
 */
interface Net {
  latent: number;
  /** `latent:key`, key '' for W_dec[latent]: one column of the batch's delta per distinct value. */
  column: string;
  row: ArrayLike<number> | null;
  clamped: boolean;
  c: number;
}

function foldInterventions(sae: Sae, specs: InterventionSpec[]): Net[] {
  const byColumn = new Map<string, Net>();
  for (const [i, s] of specs.entries()) {
    const where = `intervention ${i} (latent ${s.latent}, ${s.mode} ${s.value}${s.decoderRow ? ` along ${s.decoderRow.key}` : ''})`;
    if (!Number.isInteger(s.latent) || s.latent < 0 || s.latent >= sae.dSae)
      throw new InputError(`${where}: latent must be an integer in 0..${sae.dSae - 1}`);
    if (!Number.isFinite(s.value)) throw new InputError(`${where}: value must be a finite number`);
    if (s.mode !== 'add' && s.mode !== 'clamp') throw new InputError(`${where}: mode must be "add" or "clamp"`);
    const row = s.decoderRow ? checkedRow(sae, s.decoderRow, where) : null;
    const column = `${s.latent}:${s.decoderRow?.key ?? ''}`;
    const net = byColumn.get(column) ?? { latent: s.latent, column, row, clamped: false, c: 0 };
    if (s.mode === 'clamp') Object.assign(net, { clamped: true, c: s.value });
    else net.c += s.value;
    byColumn.set(column, net);
  }
  return [...byColumn.values()];
}

function checkedRow(sae: Sae, r: NonNullable<InterventionSpec['decoderRow']>, where: string): ArrayLike<number> {
  if (!r.key) throw new InputError(`${where}: a decoder row needs a non-empty key`);
  if (!r.values)
    throw new InputError(`${where}: decoder row ${r.key} carries no values (read them from the file its key names)`);
  if (r.values.length !== sae.dIn)
    throw new InputError(`${where}: decoder row ${r.key} has ${r.values.length} values, expected d_in = ${sae.dIn}`);
  for (let k = 0; k < r.values.length; k++)
    if (!Number.isFinite(r.values[k])) throw new InputError(`${where}: decoder row ${r.key} has a non-finite value`);
  return r.values;
}

/**
 * Which intervention list each position of h takes: h's rows are `counts[r]` consecutive positions taking
 * list `lists[r]` (e.g. the sequences of a batch, each the request it generates).
 */
export interface RowLayout {
  counts: ArrayLike<number>;
  lists: ArrayLike<number>;
}

/**
 * Rewrites h [positions, d_model] with a possibly different intervention list per row of `layout`. Resolves
 * to a new tensor; the caller owns h and the result.
 */
export type RowResidualEdit = (h: tf.Tensor2D, layout: RowLayout) => Promise<tf.Tensor2D>;

/**
 * The error-preserving intervention of docs/design.md "Interventions": f = encode(h); err = h − decode(f);
 * clamp: f[i] = v; add: f[i] += v; h' = decode(f) + err. Since decode is affine, h' = h + Σ_i (f'_i − f_i)·W_dec[i], so
 * only the intervened latents are touched: `add` needs no encode at all; `clamp` needs f_i, which for
 * ReLU/JumpReLU is one encoder column per latent, computed on the backend with nothing read back, and for
 * TopK a full encode (membership depends on all latents).
 * A row taking list i gets `perRow[i]`; all rows' latents share one decoder gather and one matmul:
 * delta [N, m] = C − K ⊙ f[:, col], with C the added or clamped values, K = 1 where the row clamps.
 * An intervention with its own decoder row writes along it instead: h' = h + (f'_i − f_i)·r (a column of its own,
 * so rows of one batch may clamp the same latent along different rows).
 */
export function makeRowIntervention(sae: Sae, perRow: InterventionSpec[][]): RowResidualEdit {
  const nets = perRow.map((specs) => foldInterventions(sae, specs));
  // one column per distinct (latent, decoder row), ordered by latent then row key
  const columns = [...new Map(nets.flat().map((n) => [n.column, n])).values()].sort(
    (a, b) => a.latent - b.latent || (a.column < b.column ? -1 : a.column > b.column ? 1 : 0),
  );
  const clampedLatents = [
    ...new Set(
      nets
        .flat()
        .filter((n) => n.clamped)
        .map((n) => n.latent),
    ),
  ].sort((a, b) => a - b);
  const column = new Map(columns.map((n, i) => [n.column, i]));
  const clampColumn = new Map(clampedLatents.map((l, i) => [l, i]));
  // For each column, its latent's column among the clamped ones (0 when not clamped: K masks it out).
  const fromClamped = Int32Array.from(columns, (n) => clampColumn.get(n.latent) ?? 0);
  const m = columns.length;
  const decoderRows = m ? gatherDecoderRows(sae, columns) : null;
  // Per row of the batch: C and K rows [m].
  const cRow = nets.map((rowNets) => {
    const c = new Float32Array(m),
      k = new Float32Array(m);
    for (const n of rowNets) {
      c[column.get(n.column)!] = n.c;
      if (n.clamped) k[column.get(n.column)!] = 1;
    }
    return { c, k };
  });
  const apply = (h: tf.Tensor2D, layout: RowLayout, f: tf.Tensor2D | null) =>
    tf.tidy(() => {
      const N = h.shape[0];
      const C = new Float32Array(N * m),
        K = new Float32Array(N * m);
      for (let r = 0, t = 0; r < layout.counts.length; r++) {
        const { c, k } = cRow[layout.lists[r]];
        for (const end = t + layout.counts[r]; t < end; t++) {
          C.set(c, t * m);
          K.set(k, t * m);
        }
      }
      let delta: tf.Tensor2D = tf.tensor2d(C, [N, m]);
      if (f) delta = tf.sub(delta, tf.mul(tf.tensor2d(K, [N, m]), tf.gather(f, tf.tensor1d(fromClamped, 'int32'), 1)));
      return tf.add(h, tf.matMul(delta, tf.tensor2d(decoderRows!, [m, sae.dIn]))) as tf.Tensor2D;
    });
  return async (h, layout) => {
    if (h.rank !== 2 || h.shape[1] !== sae.dIn)
      throw new InputError(`intervention input has shape [${h.shape}], expected [tokens, ${sae.dIn}]`);
    const N = h.shape[0];
    const total = Array.from(layout.counts).reduce((a, c) => a + c, 0);
    if (N !== total) throw new RangeError(`intervention: ${N} positions for rows of ${total}`);
    for (const i of Array.from(layout.lists))
      if (!(i >= 0 && i < perRow.length)) throw new RangeError(`intervention: list ${i} of ${perRow.length}`);
    if (!decoderRows) return tf.clone(h);
    if (!clampedLatents.length) return apply(h, layout, null);
    const arch = architecture(sae.activation);
    const f =
      arch.select === 'topk' ? await encodedCodes(sae, h, clampedLatents) : clampedCodes(sae, arch, h, clampedLatents);
    try {
      return apply(h, layout, f);
    } finally {
      f.dispose();
    }
  };
}

/** The rows the columns write along [m, d_in]: W_dec[latent], or the column's own decoder row. */
function gatherDecoderRows(sae: Sae, columns: Net[]): Float32Array {
  const out = sae.decoder.gatherRowsF32(columns.map((n) => (n.row ? 0 : n.latent)));
  columns.forEach((n, i) => {
    if (n.row) out.set(n.row, i * sae.dIn);
  });
  return out;
}

/** The same interventions at every position of h [tokens, d_model]. */
export function makeIntervention(sae: Sae, specs: InterventionSpec[]): ResidualEdit {
  const apply = makeRowIntervention(sae, [specs]);
  return (h) => apply(h, { counts: [h.shape[0]], lists: [0] });
}

/** The current codes f [T, m] of the given latents by a full encode, read back (k-largest: membership depends on every latent). Caller disposes. */
async function encodedCodes(sae: Sae, h: tf.Tensor2D, latents: number[]): Promise<tf.Tensor2D> {
  const T = h.shape[0];
  const codes = await encodeSparse(sae, h);
  const f = new Float32Array(T * latents.length);
  latents.forEach((latent, i) =>
    codeColumn(codes, latent).forEach((v, t) => {
      f[t * latents.length + i] = v;
    }),
  );
  return tf.tensor2d(f, [T, latents.length]);
}

/** The current codes f [T, m] of the given latents of a per-latent architecture, from their encoder columns only, on the backend. Caller disposes. */
function clampedCodes(sae: Sae, arch: PerLatent, h: tf.Tensor2D, latents: number[]): tf.Tensor2D {
  const x = saeInput(sae, h);
  try {
    return tf.tidy(() => {
      const z = tf.matMul<tf.Tensor2D>(
        x,
        tf.tensor2d(sae.encoder.gatherColumnsF32(latents), [sae.dIn, latents.length]),
      );
      return arch.codes(z, latents, sae.vectors);
    });
  } finally {
    x.dispose();
  }
}
