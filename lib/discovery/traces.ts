// Per-episode traces: a latent's per-token code over the response, normalised to equal bins of it.

/**
 * Averages `values` (one per token) over `bins` equal fractions of the sequence: bin b covers
 * token positions [b·n/bins, (b+1)·n/bins), and a token counts by the share of the bin it covers, so
 * every bin is defined for any length n ≥ 1 (a token may fill several bins). Exact integer weights.
 */
export function binMeans(values: ArrayLike<number>, bins: number): Float64Array {
  const n = values.length;
  if (n === 0) throw new RangeError('binMeans: empty sequence');
  const out = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    // In units of 1/bins of a token: the bin spans [b·n, (b+1)·n), token t spans [t·bins, (t+1)·bins).
    const lo = b * n;
    const hi = lo + n;
    let sum = 0;
    for (let t = Math.floor(lo / bins); t * bins < hi; t++) {
      const overlap = Math.min(hi, (t + 1) * bins) - Math.max(lo, t * bins);
      sum += overlap * values[t];
    }
    out[b] = sum / n;
  }
  return out;
}

export const BINNING = {
  bins: 50,
  over: 'the response tokens (the assistant message, as the chat template renders it)',
  rule: 'bin b covers token positions [b·n/50, (b+1)·n/50) of an n-token response; its value is the mean code over that stretch, a token counting by the share of the bin it covers (so a response shorter than 50 tokens repeats tokens across bins)',
} as const;
