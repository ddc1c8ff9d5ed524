// Independent units for the differential statistics: the pooled samples of one unit (a prompt) within
// one group are averaged into one row, so K deranged samples that reuse the same responses count once.
import type { Groups } from './differential.ts';
import type { PooledCodes } from './sparse.ts';

export type UnitKind = 'prompt' | 'sample';

export interface UnitRows {
  /** One row per (group, unit) of groups 0 and 1: the mean of that unit's pooled rows (absent = 0). */
  codes: PooledCodes;
  groups: Uint8Array;
  /** The unit id of each row. */
  units: string[];
  /** How many samples each row averages. */
  samples: Int32Array;
}

/**
 * Averages the rows of `codes` that share a group (0 or 1; others are dropped) and a unit id. Rows come
 * out group 0 first, then group 1, each in the order its units are first seen.
 */
export function unitMeans(codes: PooledCodes, groups: Groups, unitOf: readonly string[]): UnitRows {
  const members: Map<string, number[]>[] = [new Map(), new Map()];
  for (let r = 0; r < codes.nSamples; r++) {
    const g = groups[r];
    if (g !== 0 && g !== 1) continue;
    const m = members[g];
    const list = m.get(unitOf[r]);
    if (list) list.push(r);
    else m.set(unitOf[r], [r]);
  }
  const sum = new Float64Array(codes.dSae);
  const seen = new Uint8Array(codes.dSae);
  const touched: number[] = [];
  const indptr: number[] = [0];
  const latents: number[] = [];
  const values: number[] = [];
  const outGroups: number[] = [];
  const units: string[] = [];
  const samples: number[] = [];
  members.forEach((m, g) => {
    for (const [unit, rows] of m) {
      for (const r of rows) {
        for (let k = codes.indptr[r]; k < codes.indptr[r + 1]; k++) {
          const l = codes.latents[k];
          if (!seen[l]) (seen[l] = 1), touched.push(l);
          sum[l] += codes.values[k];
        }
      }
      touched.sort((x, y) => x - y);
      for (const l of touched) {
        if (sum[l] !== 0) latents.push(l), values.push(sum[l] / rows.length);
        sum[l] = 0;
        seen[l] = 0;
      }
      touched.length = 0;
      indptr.push(latents.length);
      outGroups.push(g);
      units.push(unit);
      samples.push(rows.length);
    }
  });
  return {
    codes: {
      nSamples: units.length,
      dSae: codes.dSae,
      indptr: Int32Array.from(indptr),
      latents: Int32Array.from(latents),
      values: Float64Array.from(values),
    },
    groups: Uint8Array.from(outGroups),
    units,
    samples: Int32Array.from(samples),
  };
}
