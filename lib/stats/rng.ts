// Seeded random streams: xoroshiro128+ (pure-rand); stream k is the base state jumped k times
// (2^64 draws apart), so streams never overlap and the same seed always gives the same draws.
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface Stream {
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

export function streams(seed: number, count: number): Stream[] {
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const base = xoroshiro128plus(seed);
  const out: Stream[] = [];
  for (let k = 0; k < count; k++) {
    const g = base.clone();
    out.push({ int: (n) => uniformInt(g, 0, n - 1) });
    base.jump();
  }
  return out;
}
