// ranking.arrow: one row per latent, in rank order, with exactly the columns of docs/design.md "Ranking";
// written here and read back (by column) for figures and for the random condition's frequency matching.
import { existsSync, readFileSync } from 'node:fs';
import { Bool, makeVector, Table, tableFromIPC, tableToIPC, vectorFromArray, type Vector } from 'apache-arrow';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { DiffStats } from './differential.ts';

export const RANKING_COLUMNS = [
  'latent',
  'n_a',
  'n_b',
  'n_informative',
  'freq_a',
  'freq_b',
  'mean_a',
  'mean_b',
  'sd_a',
  'sd_b',
  'max_a',
  'max_b',
  'cohens_d',
  'hedges_g',
  'auc',
  'p_mwu',
  'welch_t',
  'p_welch',
  'cliffs_delta',
  'strat_auc',
  'p_strat',
  'q_bh',
  'q_by',
  'p_holm',
  'rank',
  'selected',
] as const;

/** Every column but the integer and boolean ones holds a float64 statistic. */
const NON_FLOAT_COLUMNS: readonly string[] = ['latent', 'n_a', 'n_b', 'n_informative', 'rank', 'selected'];
type FloatColumn = Exclude<RankingColumn, 'latent' | 'n_a' | 'n_b' | 'n_informative' | 'rank' | 'selected'>;
const FLOAT_COLUMNS = RANKING_COLUMNS.filter((c): c is FloatColumn => !NON_FLOAT_COLUMNS.includes(c));

function rankingBytes(s: DiffStats, order: Int32Array, selected: Uint8Array): Uint8Array {
  const n = order.length;
  const cols: Record<string, Vector> = {
    latent: makeVector(Int32Array.from(order)),
    n_a: makeVector(new Int32Array(n).fill(s.n_a)),
    n_b: makeVector(new Int32Array(n).fill(s.n_b)),
    n_informative: makeVector(Int32Array.from(order, (l) => s.n_informative[l])),
  };
  for (const c of FLOAT_COLUMNS) cols[c] = makeVector(Float64Array.from(order, (l) => s[c][l]));
  cols.rank = makeVector(Int32Array.from(order, (_, i) => i + 1));
  cols.selected = vectorFromArray(
    Array.from(order, (l) => selected[l] === 1),
    new Bool(),
  );
  return tableToIPC(new Table(cols), 'file');
}

export function writeRanking(path: string, s: DiffStats, order: Int32Array, selected: Uint8Array): void {
  writeFileAtomic(path, rankingBytes(s, order, selected));
}

export type RankingColumn = (typeof RANKING_COLUMNS)[number];

/**
 * The named columns of a ranking.arrow (values as stored: numbers, booleans, null for a NaN q), and its
 * row count. A column named in `optional` may be absent (rankings written before it existed): it is left out.
 */
export function readRanking<C extends RankingColumn>(
  path: string,
  columns: readonly C[],
  missing = 'ranking not found',
  optional: readonly C[] = [],
): { rows: number; columns: Record<C, ArrayLike<unknown>> } {
  if (!existsSync(path)) throw new InputError(`${path}: ${missing}`);
  const t = tableFromIPC(readFileSync(path));
  const out = {} as Record<C, ArrayLike<unknown>>;
  for (const name of columns) {
    const v = t.getChild(name);
    if (!v && optional.includes(name)) continue;
    if (!v) throw new InputError(`${path}: column ${name} missing`);
    out[name] = v.toArray() as ArrayLike<unknown>;
  }
  return { rows: t.numRows, columns: out };
}
