// Before a merge: the shard directories given must be every shard of one run, each once and finished.
// Every problem is found and named at once (missing shard indices with the units they hold, duplicated
// indices with both directories, settings hashes that differ with the directories of each), so one look
// at the message says what to rerun; any problem is an input error (exit 2) and nothing is written.
import { InputError } from '../errors.ts';
import type { ShardManifest, Unit } from './manifest.ts';
import { shardUnits } from './partition.ts';
import { shardText } from './spec.ts';

export interface ShardEntry {
  dir: string;
  manifest: ShardManifest;
}

/** The run the checked shards make up: its command (and phase), settings hash, shard count and plan. */
export interface ShardSet {
  command: string;
  phase?: string;
  settingsHash: string;
  count: number;
  unit: string;
  plan: Unit[];
  /** The shards in index order. */
  shards: ShardEntry[];
}

const short = (hash: string): string => `${hash.slice(0, 12)}…`;

/** Entries grouped by a key, in first-seen order. */
function groupBy(entries: ShardEntry[], key: (e: ShardEntry) => string): Map<string, ShardEntry[]> {
  const out = new Map<string, ShardEntry[]>();
  for (const e of entries) out.set(key(e), [...(out.get(key(e)) ?? []), e]);
  return out;
}

const dirs = (es: ShardEntry[]): string => es.map((e) => e.dir).join(', ');

/** Units listed more than once across `entries` (a unit must belong to exactly one shard). */
function repeatedUnits(entries: ShardEntry[]): Unit[] {
  const seen = new Set<string>();
  const twice: Unit[] = [];
  for (const e of entries)
    for (const u of e.manifest.units) {
      const k = JSON.stringify(u.unit);
      if (seen.has(k)) twice.push(u.unit);
      seen.add(k);
    }
  return twice;
}

/** The problems of a set of shards from one settings hash and count; empty when they make up the run. */
function completeness(entries: ShardEntry[], count: number): string[] {
  const problems: string[] = [];
  const plan = entries[0].manifest.plan;
  const planText = JSON.stringify(plan);
  const otherPlan = entries.filter((e) => JSON.stringify(e.manifest.plan) !== planText);
  if (otherPlan.length)
    problems.push(`plans differ (same settings, other units): ${dirs(otherPlan)} against ${entries[0].dir}`);
  const byIndex = groupBy(entries, (e) => String(e.manifest.shard.index));
  for (const [index, es] of byIndex)
    if (es.length > 1) problems.push(`duplicated shard ${index}/${count}: given ${es.length} times (${dirs(es)})`);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(String(i)));
  for (const i of missing) {
    const units = shardUnits(plan, { index: i, count });
    problems.push(
      `missing shard ${i}/${count} (${units.length} ${entries[0].manifest.unit}${units.length === 1 ? '' : 's'}${units.length ? `: ${units.slice(0, 10).join(', ')}${units.length > 10 ? ', …' : ''}` : ''}): run it (--shard ${i}/${count}, or array index ${i}) and give its directory`,
    );
  }
  for (const e of entries) {
    const m = e.manifest;
    if (!m.complete)
      problems.push(
        `shard ${shardText(m.shard)} in ${e.dir} has not finished: rerun the same command with the same index, which resumes it`,
      );
    else {
      const expected = JSON.stringify(shardUnits(plan, m.shard));
      if (JSON.stringify(m.units.map((u) => u.unit)) !== expected)
        problems.push(`shard ${shardText(m.shard)} in ${e.dir} holds other units than its part of the plan`);
    }
  }
  const twice = repeatedUnits(entries.filter((e) => e.manifest.complete));
  if (twice.length && problems.length === 0)
    problems.push(`units in more than one shard: ${twice.slice(0, 10).join(', ')}`);
  return problems;
}

/** Checks that the entries are all the shards of one run, each once and finished; throws an InputError naming every problem. */
export function checkShards(entries: ShardEntry[]): ShardSet {
  if (entries.length === 0) throw new InputError('no shard directories given');
  const problems: string[] = [];
  const commands = groupBy(entries, (e) => e.manifest.command);
  if (commands.size > 1)
    problems.push(`shards of different commands: ${[...commands].map(([c, es]) => `${c} (${dirs(es)})`).join('; ')}`);
  const hashes = groupBy(entries, (e) => e.manifest.settings_hash);
  if (hashes.size > 1)
    problems.push(
      `mixed settings: ${[...hashes].map(([h, es]) => `settings hash ${short(h)} in ${dirs(es)}`).join('; ')} — shards of different runs never merge`,
    );
  const counts = groupBy(entries, (e) => String(e.manifest.shard.count));
  if (counts.size > 1)
    problems.push(
      `mixed shard counts: ${[...counts].map(([n, es]) => `N = ${n} in ${dirs(es)}`).join('; ')} — a run is split one way`,
    );
  const phases = groupBy(entries, (e) => e.manifest.phase ?? '');
  if (problems.length === 0 && phases.size > 1)
    problems.push(
      `shards at different phases: ${[...phases].map(([p, es]) => `${p} in ${dirs(es)}`).join('; ')} — run the later phase for the shards still at the earlier one (the same command and index) before merging`,
    );
  if (problems.length === 0) problems.push(...completeness(entries, entries[0].manifest.shard.count));
  if (problems.length) throw new InputError(`cannot merge:\n  ${problems.join('\n  ')}`);
  const m = entries[0].manifest;
  return {
    command: m.command,
    phase: m.phase,
    settingsHash: m.settings_hash,
    count: m.shard.count,
    unit: m.unit,
    plan: m.plan,
    shards: [...entries].sort((a, b) => a.manifest.shard.index - b.manifest.shard.index),
  };
}

/** Every record (trial or sample id) of the run in plan order: unit by unit, each from the shard holding it. */
export function recordsInPlanOrder(set: ShardSet): string[] {
  const byUnit = new Map<string, string[]>();
  for (const e of set.shards) for (const u of e.manifest.units) byUnit.set(JSON.stringify(u.unit), u.records);
  return set.plan.flatMap((u) => byUnit.get(JSON.stringify(u)) ?? []);
}
