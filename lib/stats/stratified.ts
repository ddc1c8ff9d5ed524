// The within-prompt (stratified) rank test of every latent (docs/stats.md "The stratified test"): each
// prompt is a stratum holding one group-b sample (on-topic) and K_i group-a samples (off-topic, over
// distinct responses). Per prompt U_i = Σ_k (2·[a_k > b] + [a_k = b]); strat_auc = mean_i U_i / 2K_i;
// the test statistic is S = Σ_i U_i with its exact null (lib/stats/stratNull.ts). Vectorised over
// latents from sparse pooled codes: a latent's all-zero prompts are never visited.
import type { Groups } from './differential.ts';
import type { Alternative } from './dists.ts';
import type { PooledCodes } from './sparse.ts';
import { StratNull } from './stratNull.ts';

export interface Strata {
  /** The prompt id of each stratum, in order of first appearance. */
  ids: string[];
  /** Per sample: its stratum, or −1 when it is in no stratum. */
  stratum: Int32Array;
  /** Per sample in a stratum: 0 for its group-b sample, 1..K_i for its group-a samples. */
  position: Int32Array;
  /** K_i: group-a samples per stratum. */
  k: Int32Array;
  /** The input groups with the samples left out of every stratum (repeated responses) set to 2. */
  groups: Uint8Array;
  /** Group-a samples left out because their prompt already had a group-a sample with the same response. */
  duplicates: number;
  /** Prompts left out for lacking one group-b and ≥ 1 group-a sample (only with dropIncomplete). */
  incomplete: number;
}

/**
 * Strata from the samples' groups (0 = a, 1 = b, else out) and prompt ids: every prompt with a sample
 * in a or b must have exactly one b sample and at least one a sample. A group-a sample whose response
 * (by `responseIds`, when given and not null) repeats one its prompt already has is left out: the K
 * group-a values must come from distinct responses. Returns a sentence saying why when the samples do
 * not have this shape; with `dropIncomplete`, prompts without that shape are left out instead (counted).
 */
export function strataOf(
  groups: Groups,
  promptIds: readonly string[],
  responseIds?: readonly (string | null)[],
  dropIncomplete = false,
): Strata | string {
  const out = Uint8Array.from(groups, (g) => (g === 0 || g === 1 ? g : 2));
  const byPrompt = new Map<string, { a: number; b: number; responses: Set<string> }>();
  let duplicates = 0;
  for (let r = 0; r < out.length; r++) {
    if (out[r] === 2) continue;
    const pid = promptIds[r];
    if (pid === null || pid === undefined || pid === '') return `sample ${r} has no prompt id`;
    let c = byPrompt.get(pid);
    if (!c) byPrompt.set(pid, (c = { a: 0, b: 0, responses: new Set() }));
    if (out[r] === 1) {
      c.b++;
      continue;
    }
    const resp = responseIds?.[r];
    if (resp !== null && resp !== undefined) {
      if (c.responses.has(resp)) {
        out[r] = 2;
        duplicates++;
        continue;
      }
      c.responses.add(resp);
    }
    c.a++;
  }
  const all = [...byPrompt.keys()];
  const bad = (pred: (c: { a: number; b: number }) => boolean): string[] => all.filter((p) => pred(byPrompt.get(p)!));
  const noB = bad((c) => c.b === 0);
  const manyB = bad((c) => c.b > 1);
  const noA = bad((c) => c.a === 0);
  const ids = all.filter((p) => !noB.includes(p) && !manyB.includes(p) && !noA.includes(p));
  const problems: string[] = [];
  const list = (x: string[]): string => `${x.slice(0, 3).join(', ')}${x.length > 3 ? ', …' : ''}`;
  if (!dropIncomplete) {
    if (noB.length) problems.push(`${noB.length} prompts have no group-b sample (${list(noB)})`);
    if (manyB.length) problems.push(`${manyB.length} prompts have more than one group-b sample (${list(manyB)})`);
    if (noA.length) problems.push(`${noA.length} prompts have no group-a sample (${list(noA)})`);
  }
  if (ids.length < 2 && !problems.length)
    problems.push(`${ids.length} complete prompt${ids.length === 1 ? '' : 's'} (need at least 2)`);
  if (problems.length) return problems.join('; ');
  const index = new Map(ids.map((p, s) => [p, s]));
  const stratum = new Int32Array(out.length).fill(-1);
  const position = new Int32Array(out.length);
  const k = new Int32Array(ids.length);
  for (let r = 0; r < out.length; r++) {
    if (out[r] === 2) continue;
    const s = index.get(promptIds[r]);
    if (s === undefined) {
      out[r] = 2;
      continue;
    }
    stratum[r] = s;
    position[r] = out[r] === 1 ? 0 : ++k[s];
  }
  return { ids, stratum, position, k, groups: out, duplicates, incomplete: all.length - ids.length };
}

export interface StratStats {
  strat_auc: Float64Array;
  p_strat: Float64Array;
  /** Strata where the latent's values are not all equal (the only ones that carry information). */
  n_informative: Int32Array;
  /** How many latents' p-values came from the normal approximation. */
  normal: number;
}

/** Per latent, its entries (stratum, position, value) grouped by stratum in ascending order (CSC). */
function entriesByLatent(codes: PooledCodes, strata: Strata) {
  const { dSae, indptr, latents, values } = codes;
  const nStrata = strata.ids.length;
  // sample rows ordered by stratum, so each latent's entries come grouped by stratum
  const start = new Int32Array(nStrata + 1);
  for (let r = 0; r < codes.nSamples; r++) if (strata.stratum[r] >= 0) start[strata.stratum[r] + 1]++;
  for (let s = 0; s < nStrata; s++) start[s + 1] += start[s];
  const fill = start.slice(0, nStrata);
  const rows = new Int32Array(start[nStrata]);
  for (let r = 0; r < codes.nSamples; r++) if (strata.stratum[r] >= 0) rows[fill[strata.stratum[r]]++] = r;
  const ptr = new Int32Array(dSae + 1);
  for (const r of rows) for (let k = indptr[r]; k < indptr[r + 1]; k++) ptr[latents[k] + 1]++;
  for (let l = 0; l < dSae; l++) ptr[l + 1] += ptr[l];
  const at = ptr.slice(0, dSae);
  const st = new Int32Array(ptr[dSae]);
  const pos = new Int32Array(ptr[dSae]);
  const val = new Float64Array(ptr[dSae]);
  for (const r of rows) {
    for (let k = indptr[r]; k < indptr[r + 1]; k++) {
      const e = at[latents[k]]++;
      st[e] = strata.stratum[r];
      pos[e] = strata.position[r];
      val[e] = values[k];
    }
  }
  return { ptr, st, pos, val };
}

/** strat_auc, p_strat and informative strata of every latent; `alternative` 'greater' = group a higher. */
export function stratifiedStats(
  codes: PooledCodes,
  strata: Strata,
  alternative: Alternative = 'greater',
  forceExact = false,
): StratStats {
  const d = codes.dSae;
  const nStrata = strata.ids.length;
  const { ptr, st, pos, val } = entriesByLatent(codes, strata);
  const out: StratStats = {
    strat_auc: new Float64Array(d),
    p_strat: new Float64Array(d),
    n_informative: new Int32Array(d),
    normal: 0,
  };
  const acc = new StratNull();
  const kMax = strata.k.reduce((m, k) => Math.max(m, k), 0);
  const row = new Float64Array(kMax + 1);
  const sorted = new Float64Array(kMax + 1);
  for (let l = 0; l < d; l++) {
    acc.reset();
    let aucSum = 0;
    for (let e = ptr[l]; e < ptr[l + 1]; ) {
      const s = st[e];
      let f = e + 1;
      while (f < ptr[l + 1] && st[f] === s) f++;
      const k = strata.k[s];
      let u: number;
      if (f - e === 1) {
        // one non-zero value among K + 1: a two-point row (the sparse case)
        u = val[e] > 0 ? acc.addTwoPoint(k, 1, pos[e] !== 0) : acc.addTwoPoint(1, k, pos[e] === 0);
      } else {
        row.fill(0, 0, k + 1);
        for (let j = e; j < f; j++) row[pos[j]] = val[j];
        // insertion sort of the K + 1 values (K is small)
        for (let i = 0; i <= k; i++) {
          const v = row[i];
          let j = i - 1;
          while (j >= 0 && sorted[j] > v) {
            sorted[j + 1] = sorted[j];
            j--;
          }
          sorted[j + 1] = v;
        }
        u = acc.addRow(row, sorted, k + 1);
      }
      if (u >= 0) aucSum += u / (2 * k);
      e = f;
    }
    out.n_informative[l] = acc.rows;
    out.strat_auc[l] = (aucSum + (nStrata - acc.rows) / 2) / nStrata;
    const p = acc.pValue(alternative, forceExact);
    out.p_strat[l] = p.p;
    if (!p.exact) out.normal++;
  }
  return out;
}

/** U of one stratum by its definition: Σ over group-a values of 2·[a > b] + [a = b] (values[0] = b). */
function stratumU(values: ArrayLike<number>): number {
  let u = 0;
  for (let j = 1; j < values.length; j++) u += values[j] > values[0] ? 2 : values[j] === values[0] ? 1 : 0;
  return u;
}

/** Per chosen latent, every stratum's own AUC U_i / 2K_i (½ for a stratum where the latent is constant). */
export function stratumAucs(codes: PooledCodes, strata: Strata, chosen: readonly number[]): Float64Array[] {
  const at = new Map(chosen.map((l, j) => [l, j]));
  const nStrata = strata.ids.length;
  const dense = chosen.map(() => Array.from({ length: nStrata }, (_, s) => new Float64Array(strata.k[s] + 1)));
  for (let r = 0; r < codes.nSamples; r++) {
    const s = strata.stratum[r];
    if (s < 0) continue;
    for (let k = codes.indptr[r]; k < codes.indptr[r + 1]; k++) {
      const j = at.get(codes.latents[k]);
      if (j !== undefined) dense[j][s][strata.position[r]] = codes.values[k];
    }
  }
  return dense.map((rows) => Float64Array.from(rows, (v, s) => stratumU(v) / (2 * strata.k[s])));
}
