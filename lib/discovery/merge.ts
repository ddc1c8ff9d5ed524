// `analyze merge` for find-otd-latents shards, phase by phase (shard.ts). After the responses phase: every
// shard's responses gathered in prompt order into responses.json — in the merged directory and in every
// shard directory, where the shard's rerun finds it and goes on to its capture. After the capture phase:
// the shards' parts finalized into the merged store (as `capture` shards merge), then the statistics run
// once, on that store, from the plan the shards recorded — the calls the unsharded run makes, so
// latents.json, ranking.arrow and summary.md equal its own.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURE_SETTINGS_FILE } from '../capture/capture.ts';
import { mergeCapture } from '../capture/merge.ts';
import { InputError } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/json.ts';
import { claimRunDir } from '../runs/claim.ts';
import { lockDir } from '../runs/lock.ts';
import type { ShardSet } from '../shards/check.ts';
import { shardText } from '../shards/spec.ts';
import type { Analysis } from './analyse.ts';
import { RESPONSES_FILE, type StatisticsPlan, STORE_DIR, statisticsPhase } from './run.ts';
import { CAPTURE_PHASE, type CaptureShardFinish, RESPONSES_PHASE, type ResponsesFinish } from './shard.ts';

export type DiscoveryMerge =
  | { phase: typeof RESPONSES_PHASE; responses: number }
  | { phase: typeof CAPTURE_PHASE; analysis: Analysis; labels: Map<number, string> | undefined };

export async function mergeDiscovery(out: string, set: ShardSet, log: (line: string) => void): Promise<DiscoveryMerge> {
  if (set.phase === RESPONSES_PHASE) return { phase: RESPONSES_PHASE, responses: mergeResponses(out, set) };
  if (set.phase !== CAPTURE_PHASE)
    throw new InputError(`${set.shards[0].dir}: find-otd-latents shards at an unknown phase (${set.phase})`);
  const plan = statisticsPlanOf(set, log);
  // the merged directory holds what the unsharded run's holds: responses.json beside the store
  const responses = readJson(join(set.shards[0].dir, RESPONSES_FILE));
  writeJsonAtomic(join(out, RESPONSES_FILE), responses);
  const store = join(out, STORE_DIR);
  const { key: _, config, ...extra } = readJson(join(set.shards[0].dir, STORE_DIR, CAPTURE_SETTINGS_FILE));
  claimRunDir(store, config, { what: 'an activation store', extra, file: CAPTURE_SETTINGS_FILE });
  await mergeCapture(store, { ...set, shards: set.shards.map((e) => ({ ...e, dir: join(e.dir, STORE_DIR) })) });
  const analysis = await statisticsPhase(out, plan);
  return { phase: CAPTURE_PHASE, analysis, labels: plan.labels ? new Map(plan.labels) : undefined };
}

/** The responses of every prompt in plan order, written into `out` and every shard directory. */
function mergeResponses(out: string, set: ShardSet): number {
  const finishes = set.shards.map((e) => e.manifest.finish as ResponsesFinish);
  const byPrompt = new Map<string, string>();
  set.shards.forEach((e, s) => {
    e.manifest.units.forEach((u, k) => byPrompt.set(String(u.unit), finishes[s].responses[k]));
  });
  const file = { key: finishes[0].gen_key, value: set.plan.map((u) => byPrompt.get(String(u))) };
  if (file.value.some((r) => typeof r !== 'string'))
    throw new InputError(`${set.shards[0].dir}: the shards' responses do not cover every prompt`);
  writeJsonAtomic(join(out, RESPONSES_FILE), file);
  for (const e of set.shards) {
    const lock = lockDir(e.dir, `shard directory ${e.dir}`);
    try {
      const at = join(e.dir, RESPONSES_FILE);
      if (!existsSync(at) || readJson(at).key !== file.key) writeJsonAtomic(at, file);
    } finally {
      lock.release();
    }
  }
  return file.value.length;
}

/** The statistics' plan the shards recorded: the same in every shard but for the machine it ran on. */
function statisticsPlanOf(set: ShardSet, log: (line: string) => void): StatisticsPlan {
  const plans = set.shards.map((e) => (e.manifest.finish as CaptureShardFinish).statistics);
  const withoutRuntime = (p: StatisticsPlan) =>
    JSON.stringify({ ...p, provenance: { ...p.provenance, runtime: null } });
  const odd = set.shards.filter((_, i) => withoutRuntime(plans[i]) !== withoutRuntime(plans[0]));
  if (odd.length)
    throw new InputError(
      `shards of one settings hash recorded different analysis plans (${odd.map((e) => e.dir).join(', ')} against ${set.shards[0].dir}): rerun those shards`,
    );
  if (new Set(plans.map((p) => JSON.stringify(p.provenance.runtime))).size > 1)
    log(
      `note: the shards ran on different runtimes (backend or versions); latents.json records shard ${shardText(set.shards[0].manifest.shard)}'s, merged.json lists the shards`,
    );
  return plans[0];
}
