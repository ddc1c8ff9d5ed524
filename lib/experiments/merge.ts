// `analyze merge` for ablation shards: the shards' trials gathered in plan order into one trials.jsonl,
// then finished like an unsharded run (finish.ts) from what every shard recorded — so the merged
// trials and metrics.json equal the unsharded run's, byte for byte apart from timing (runtime fields).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { JudgeStats } from '../judge/index.ts';
import { recordsInPlanOrder, type ShardSet } from '../shards/check.ts';
import { shardText } from '../shards/spec.ts';
import type { MetricsReport } from '../trials/metrics.ts';
import { readTrials } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import type { Calibration } from './calibrate.ts';
import type { AblationResult } from './config.ts';
import { type AblationTally, finishAblation } from './results.ts';
import { ROTATION_FILE } from './rotation.ts';
import { STORE_FILE } from './run.ts';
import type { AblationShardFinish } from './shard.ts';

/** The run's context, the same in every shard but for the machine it ran on (runtime). */
function sameContext(set: ShardSet, log: (line: string) => void): AblationShardFinish['ablation'] {
  const finishes = set.shards.map((e) => (e.manifest.finish as AblationShardFinish).ablation);
  const key = (f: AblationShardFinish['ablation']) =>
    JSON.stringify({ ...f, provenance: { ...f.provenance, runtime: null } });
  const first = key(finishes[0]);
  const odd = set.shards.filter((_, i) => key(finishes[i]) !== first);
  if (odd.length)
    throw new InputError(
      `shards of one settings hash recorded different run contexts (${odd.map((e) => e.dir).join(', ')} against ${set.shards[0].dir}): they were made by different toolkit versions or inputs that changed under them; rerun those shards`,
    );
  const runtimes = new Set(finishes.map((f) => JSON.stringify(f.provenance.runtime)));
  if (runtimes.size > 1)
    log(
      `note: the shards ran on ${runtimes.size} different runtimes (backend or versions); metrics.json records shard ${shardText(set.shards[0].manifest.shard)}'s, merged.json lists the shards`,
    );
  return finishes[0];
}

function sumStats(all: JudgeStats[]): JudgeStats {
  const out = { ...all[0], models_returned: [...all[0].models_returned] };
  for (const s of all.slice(1)) {
    for (const k of ['judged', 'cache_hits', 'http_requests', 'invalid_outputs', 'errors', 'no_attempt'] as const)
      out[k] += s[k];
    for (const m of s.models_returned) if (!out.models_returned.includes(m)) out.models_returned.push(m);
  }
  return out;
}

/** The shards' tallies summed (seconds: the shards' own, added). */
function sumTally(set: ShardSet): AblationTally {
  const tallies = set.shards.map((e) => (e.manifest.finish as AblationShardFinish).tally);
  const calibrations = new Map<number, Calibration>();
  for (const t of tallies) for (const c of t.calibrations) calibrations.set(c.feature, c);
  const sum = (k: 'planned' | 'alreadyDone' | 'generated' | 'seconds') => tallies.reduce((a, t) => a + t[k], 0);
  return {
    planned: sum('planned'),
    alreadyDone: sum('alreadyDone'),
    generated: sum('generated'),
    seconds: sum('seconds'),
    judgeStats: sumStats(tallies.map((t) => t.judgeStats)),
    calibrations,
  };
}

/** Every shard's planned trials from its trials.jsonl, in plan order; a planned trial not there is an input error. */
function gatherTrials(set: ShardSet): Trial[] {
  const byId = new Map<string, Trial>();
  for (const e of set.shards) {
    const own = new Set(e.manifest.units.flatMap((u) => u.records));
    const store = join(e.dir, STORE_FILE);
    const found = own.size ? readTrials(store).filter((t) => own.has(t.id)) : [];
    for (const t of found) byId.set(t.id, t);
    const lacking = [...own].filter((id) => !byId.has(id));
    if (lacking.length)
      throw new InputError(
        `${store}: ${lacking.length} of shard ${shardText(e.manifest.shard)}'s planned trials are not there (e.g. ${lacking[0]}); rerun the shard (same command, same index) to redo them`,
      );
  }
  return recordsInPlanOrder(set).map((id) => byId.get(id)!);
}

/** Writes the merged ablation run into `out` (claimed already): trials.jsonl, steering_pool.json, random.json and its rows, metrics.json, summary.md. */
export function mergeAblation(
  out: string,
  set: ShardSet,
  log: (line: string) => void,
): AblationResult & { report: MetricsReport } {
  const context = sameContext(set, log);
  const trials = gatherTrials(set);
  const store = join(out, STORE_FILE);
  writeFileAtomic(store, trials.map((t) => `${JSON.stringify(t)}\n`).join(''));
  // the whole run's setup, computed alike in every shard: the random control's record and rows (its trials name the rows' file)
  for (const name of ['steering_pool.json', 'random.json', ROTATION_FILE]) {
    const from = join(set.shards[0].dir, name);
    if (existsSync(from)) writeFileAtomic(join(out, name), readFileSync(from));
  }
  return finishAblation(out, store, trials, context, sumTally(set));
}
