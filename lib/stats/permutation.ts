// Permutation test for a difference between two conditions by swapping condition labels within units.
// With units = clusters (or matched pairs) that hold trials of both conditions this is the sign-flip
// test of a paired design; a unit with trials of one condition only moves them across, which is the
// ordinary label permutation at the unit level.
import { streams } from '../random.ts';

export interface SwapTestInput {
  /** Per-unit sums in condition a and b, both [unit][width]. */
  sumsA: Float64Array;
  sumsB: Float64Array;
  width: number;
  nStats: number;
  /** Statistics from the totals of one condition. */
  finish: (totals: Float64Array, out: Float64Array) => void;
  resamples?: number;
  seed?: number;
  /** Which independent stream of the seed to draw from (keep it apart from other users of the seed). */
  stream?: number;
}

/**
 * Two-sided p-values of T = f(Σa) − f(Σb), one per statistic: the share of label swaps with |T*| ≥ |T|.
 * Exhaustive when 2^units ≤ resamples (p = count / 2^units); otherwise Monte Carlo with the observed
 * assignment counted, (1 + count) / (1 + resamples), so p is never 0.
 */
export function swapPermutationTest(input: SwapTestInput): Float64Array {
  const { sumsA, sumsB, width, nStats, finish } = input;
  const resamples = input.resamples ?? 10_000;
  const nUnits = sumsA.length / width;
  const totA = new Float64Array(width);
  const totB = new Float64Array(width);
  const outA = new Float64Array(nStats);
  const outB = new Float64Array(nStats);
  const diff = (flip: (u: number) => boolean, into: Float64Array): void => {
    totA.fill(0);
    totB.fill(0);
    for (let u = 0; u < nUnits; u++) {
      const [x, y] = flip(u) ? [sumsB, sumsA] : [sumsA, sumsB];
      for (let c = 0; c < width; c++) {
        totA[c] += x[u * width + c];
        totB[c] += y[u * width + c];
      }
    }
    finish(totA, outA);
    finish(totB, outB);
    for (let j = 0; j < nStats; j++) into[j] = outA[j] - outB[j];
  };
  const observed = new Float64Array(nStats);
  diff(() => false, observed);
  const tol = observed.map((t) => Math.abs(t) * 1e-12);
  const extreme = new Float64Array(nStats);
  const t = new Float64Array(nStats);
  const count = (): void => {
    for (let j = 0; j < nStats; j++) if (Math.abs(t[j]) >= Math.abs(observed[j]) - tol[j]) extreme[j]++;
  };
  if (nUnits < 31 && 2 ** nUnits <= resamples) {
    for (let mask = 0; mask < 2 ** nUnits; mask++) {
      diff((u) => ((mask >>> u) & 1) === 1, t);
      count();
    }
    return extreme.map((e, j) => (Number.isNaN(observed[j]) ? NaN : e / 2 ** nUnits));
  }
  const stream = input.stream ?? 0;
  const rng = streams(input.seed ?? 0, stream + 1)[stream];
  const bits = new Uint8Array(nUnits);
  for (let r = 0; r < resamples; r++) {
    for (let u = 0; u < nUnits; u++) bits[u] = rng.int(2);
    diff((u) => bits[u] === 1, t);
    count();
  }
  return extreme.map((e, j) => (Number.isNaN(observed[j]) ? NaN : (1 + e) / (1 + resamples)));
}
