// An ablation run as one shard of a larger one (--shard I/N, or the scheduler's index): the shard runs the
// whole run's setup (features, random sets: seeded, so every shard computes the same), then calibrates and
// generates only its own steering features — a feature's calibration and all its conditions stay in one
// shard — and records in shard.json what `analyze merge` needs to finish the run (AblationFinish).
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

/**
 * A shard of a sweep that has calibrated its features while other shards' are not in the shared cache yet:
 * it stays unfinished (shard.json) and is run again once every shard has calibrated; then it sweeps.
 */
export function waitForShards(o: AblationOptions, store: string, waiting: number, started: number): AblationResult {
  o.log(
    `shard ${shardText(o.shard!)}: its features are calibrated; the sweep's levels need every feature's threshold, and ${waiting} feature(s) of other shards are not calibrated yet`,
  );
  const seconds = (Date.now() - started) / 1000;
  return { out: o.out, store, report: null, levels: null, planned: 0, alreadyDone: 0, generated: 0, seconds, waiting };
}
