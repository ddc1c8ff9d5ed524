// The deterministic partition of a run's units among N shards: unit i (in the run's plan order) belongs to
// shard i mod N. Round-robin rather than contiguous blocks, so shards stay balanced when the cost of the
// units drifts along the plan; the plan order is the run's own (seeded), so every shard computes the same.
import type { ShardSpec } from './spec.ts';

/** Whether the unit at `position` of the plan belongs to the shard. */
export const owns = (shard: ShardSpec, position: number): boolean => position % shard.count === shard.index;

/** How many of a plan's `n` units belong to the shard. */
export const shardUnitCount = (n: number, shard: ShardSpec): number =>
  Math.max(0, Math.ceil((n - shard.index) / shard.count));

/** The shard's units, in plan order. */
export function shardUnits<T>(units: readonly T[], shard: ShardSpec): T[] {
  return units.filter((_, i) => owns(shard, i));
}

/** The items whose unit (`unitOf`, units in order of first appearance) belongs to the shard. */
export function shardItems<T>(items: readonly T[], unitOf: (item: T) => string | number, shard: ShardSpec): T[] {
  const position = new Map<string | number, number>();
  for (const item of items) if (!position.has(unitOf(item))) position.set(unitOf(item), position.size);
  return items.filter((item) => owns(shard, position.get(unitOf(item))!));
}
