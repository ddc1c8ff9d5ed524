// An ablation run as one shard of a larger one (--shard I/N, or the scheduler's index): the shard runs the
// whole run's setup (features, random sets: seeded, so every shard computes the same), then calibrates and
// generates only its own steering features — a feature's calibration and all its conditions stay in one
// shard — and records in shard.json what `analyze merge` needs to finish the run (AblationFinish).
import { SettingError, settingRef as ref } from '../errors.ts';
import type { Shard } from '../shards/environment.ts';
import { SHARD_FORMAT, writeManifest } from '../shards/manifest.ts';
import { shardUnits } from '../shards/partition.ts';
import { shardText } from '../shards/spec.ts';
import type { Calibration } from './calibrate.ts';
import { ABLATE_COMMAND, type AblationOptions, type AblationResult } from './config.ts';
import type { Feature } from './features.ts';
import type { AblationFinish, AblationTally } from './results.ts';
import type { PlannedTrial } from './plan.ts';

/** What an ablation shard leaves in shard.json's `finish`. */
export interface AblationShardFinish {
  ablation: AblationFinish;
  tally: Omit<AblationTally, 'calibrations'> & { calibrations: Calibration[] };
}

/** A sweep's levels are spreads of every feature's threshold: a shard does not know the others'. */
export function checkShardable(o: AblationOptions): void {
  if (o.shard && o.strength.kind === 'calibrate' && o.strength.sweep)
    throw new SettingError(
      `${ref('shard')} ${shardText(o.shard)}: a boost sweep (${o.strength.sweep.absolute ? ref('boostSweepAbsolute') : ref('boostSweep')}) spaces its levels by the spread of every feature's calibrated threshold, which no shard sees alone; run sweeps unsharded (their calibration can be sharded through a shared ${ref('calibrationCache')}: docs/cluster.md)`,
    );
}

function manifest(o: AblationOptions & { shard: Shard }, hash: string, all: Feature[]) {
  return {
    format: SHARD_FORMAT,
    command: ABLATE_COMMAND,
    settings_hash: hash,
    shard: o.shard,
    unit: 'feature',
    plan: all.map((f) => f.latent),
  } as const;
}

/** Marks the shard started (shard.json, not complete) and returns its features. */
export function startShard(o: AblationOptions, hash: string, all: Feature[]): Feature[] {
  const shard = o.shard!;
  const mine = shardUnits(all, shard);
  o.log(`shard ${shardText(shard)} (${shard.source}): ${mine.length} of ${all.length} steering features`);
  writeManifest(o.out, { ...manifest({ ...o, shard }, hash, all), units: [], complete: false, finish: null });
  return mine;
}

/** Marks the shard complete, with its trials' ids per feature and what the merge needs. */
export function finishShard(
  o: AblationOptions,
  hash: string,
  all: Feature[],
  plan: PlannedTrial[],
  f: { finish: AblationFinish; tally: AblationTally },
  store: string,
): AblationResult {
  const shard = o.shard!;
  const units = shardUnits(all, shard).map((feature) => ({
    unit: feature.latent,
    records: plan.filter((p) => p.feature === feature.latent).map((p) => p.id),
  }));
  const finish: AblationShardFinish = {
    ablation: f.finish,
    tally: { ...f.tally, calibrations: [...f.tally.calibrations.values()] },
  };
  writeManifest(o.out, { ...manifest({ ...o, shard }, hash, all), units, complete: true, finish });
  const { planned, alreadyDone, generated, seconds } = f.tally;
  return { out: o.out, store, report: null, levels: null, planned, alreadyDone, generated, seconds };
}
