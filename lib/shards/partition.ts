// The deterministic partition of a run's units among N shards: unit i (in the run's plan order) belongs to
// shard i mod N. Round-robin rather than contiguous blocks, so shards stay balanced when the cost of the
// units drifts along the plan; the plan order is the run's own (seeded), so every shard computes the same.
import type { ShardSpec } from './spec.ts';

/** Whether the unit at `position` of the plan belongs to the shard. */
export const owns = (shard: ShardSpec, position: number): boolean => position % shard.count === shard.index;

/** The shard's units, in plan order. */
export function shardUnits<T>(units: readonly T[], shard: ShardSpec): T[] {
  return units.filter((_, i) => owns(shard, i));
}
