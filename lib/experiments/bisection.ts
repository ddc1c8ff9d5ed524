// Probabilistic bisection for a steering threshold: the boost at which the judge's first-attempt score
// falls to a target. A posterior over a grid of boosts (truncated normal prior) is queried at its
// median; each judged response says "threshold above" (score over target: not steered off enough) or
// "below", with a confidence taken from a Beta pseudo-posterior of the score (docs/design.md
// "Threshold calibration"). The answer is the posterior median after the last step.
import betaCdf from '@stdlib/stats-base-dists-beta-cdf';

export interface BisectionSettings {
  lo: number;
  hi: number;
  /** Grid points between lo and hi (both included). */
  grid: number;
  priorMean: number;
  priorSd: number;
  /** Target first-attempt score as a fraction (0.3 for a score of 30). */
  target: number;
  /** Beta pseudo-counts per judged response: a = 1 + κ·s·n, b = 1 + κ·(1 − s)·n. */
  pseudoCount: number;
  /** Confidence is clipped to [0.5, maxConfidence] so no single answer rules out a side for good. */
  maxConfidence: number;
}

export const DEFAULT_BISECTION = { grid: 10_000, pseudoCount: 4, maxConfidence: 0.95 } as const;

/** Probability, under Beta(1 + κ·s·n, 1 + κ·(1 − s)·n), that the true score lies on the observed side of the target. */
export function sideConfidence(score: number, n: number, s: BisectionSettings): number {
  const a = 1 + s.pseudoCount * score * n;
  const b = 1 + s.pseudoCount * (1 - score) * n;
  const below = betaCdf(s.target, a, b);
  const c = score >= s.target ? 1 - below : below;
  return Math.min(s.maxConfidence, Math.max(0.5, c));
}

export class Bisection {
  readonly xs: Float64Array;
  readonly posterior: Float64Array;

  constructor(readonly s: BisectionSettings) {
    if (!(s.hi > s.lo) || s.grid < 2)
      throw new RangeError(`bisection: need hi > lo and grid ≥ 2 (lo ${s.lo}, hi ${s.hi}, grid ${s.grid})`);
    this.xs = Float64Array.from({ length: s.grid }, (_, i) => s.lo + ((s.hi - s.lo) * i) / (s.grid - 1));
    this.posterior = this.xs.map((x) => Math.exp(-0.5 * ((x - s.priorMean) / s.priorSd) ** 2));
    this.normalise();
  }

  private normalise(): void {
    const total = this.posterior.reduce((a, b) => a + b, 0);
    for (let i = 0; i < this.posterior.length; i++) this.posterior[i] /= total;
  }

  /** The grid point where the posterior's cumulative mass first reaches one half. */
  median(): number {
    let acc = 0;
    for (let i = 0; i < this.xs.length; i++) {
      acc += this.posterior[i];
      if (acc >= 0.5) return this.xs[i];
    }
    return this.xs[this.xs.length - 1];
  }

  /** Folds in `n` responses at boost `x` with mean first-attempt score `score` (0–1). */
  update(x: number, score: number, n = 1): void {
    const c = sideConfidence(score, n, this.s);
    // score at or over the target: steering was too weak, so the threshold lies above x
    const above = score >= this.s.target;
    for (let i = 0; i < this.xs.length; i++) this.posterior[i] *= this.xs[i] > x === above ? c : 1 - c;
    this.normalise();
  }
}
