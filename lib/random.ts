import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/**
 * A seeded random stream (xoroshiro128+ from pure-rand). `stream` k starts 2^64·k draws after stream 0 of the
 * same seed (generator jumps), so streams never overlap: use one per trial, worker or resample block.
 */
export class Rng {
  private readonly gen: JumpableRandomGenerator;

  constructor(readonly seed: number, readonly stream = 0) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, found ${seed}`);
    this.gen = xoroshiro128plus(seed | 0);
    for (let i = 0; i < stream; i++) this.gen.jump();
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
