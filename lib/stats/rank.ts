// Average ranks with tie bookkeeping, as scipy's rankdata(method='average') plus the tie term Σ(t³ − t).

export interface Ranked {
  ranks: Float64Array;
  /** Σ over tie groups of t³ − t (0 when all values are distinct). */
  tieTerm: number;
  hasTies: boolean;
}

export function rankAverage(values: ArrayLike<number>): Ranked {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i] - values[j] || i - j);
  const ranks = new Float64Array(n);
  let tieTerm = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const t = end - start;
    const avg = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]] = avg;
    tieTerm += t * t * t - t;
    start = end;
  }
  return { ranks, tieTerm, hasTies: tieTerm > 0 };
}
