import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, found ${seed}`);
}

/**
 * pure-rand's xoroshiro128plus(seed) starts from a low-entropy state: its first outputs are ≈ 1 − seed·2⁻³² and
 * the next few stay close to linear in the seed (seeds 0..3 give first floats 0.99999999…), so the first draw
 * of every trial picked the least likely token. Discarding the first outputs mixes the state.
 */
const WARM_UP = 32;
function seeded(seed: number): JumpableRandomGenerator {
  const gen = xoroshiro128plus(seed);
  for (let i = 0; i < WARM_UP; i++) gen.next();
  return gen;
}

/**
 * A seeded random stream (xoroshiro128+ from pure-rand). Stream k of a seed starts 2^64·k draws after
 * stream 0 (generator jumps), so streams never overlap: use one per trial, worker or resample block.
 */
export class Rng {
  private readonly gen: JumpableRandomGenerator;

  constructor(seed: number, stream = 0, gen?: JumpableRandomGenerator) {
    checkSeed(seed);
    this.gen = gen ?? seeded(seed);
    if (!gen) for (let i = 0; i < stream; i++) this.gen.jump();
  }

  /** Uniform in [0, 1), 53 random bits. */
  float(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return uniformInt(this.gen, 0, n - 1);
  }
}

/** Streams 0..count−1 of a seed (the same as `new Rng(seed, k)`), made with one jump each. */
export function streams(seed: number, count: number): Rng[] {
  checkSeed(seed);
  const base = seeded(seed);
  const out: Rng[] = [];
  for (let k = 0; k < count; k++) {
    out.push(new Rng(seed, k, base.clone()));
    base.jump();
  }
  return out;
}
