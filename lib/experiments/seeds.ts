// Seeds derived from the run seed and a name, so each feature's draws depend on nothing but the seed and
// that feature — not on the order features are listed or processed in.
import { createHash } from 'node:crypto';

export function subSeed(seed: number, ...parts: (string | number)[]): number {
  return createHash('sha256')
    .update(JSON.stringify([seed, ...parts]))
    .digest()
    .readInt32BE(0);
}

/** Trial seeds live in [0, 2^31): valid everywhere a seed is taken, and readable. */
export const SEED_RANGE = 2 ** 31;
