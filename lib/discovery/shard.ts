// find-otd-latents as one shard of a larger run, in two phases of the same command (the shard's directory
// says which). Its captured samples pair each prompt with other prompts' responses (the derangements), so
// no shard can capture before every response exists:
//   1. responses: the shard generates the responses to its prompts (prompt i belongs to shard i mod N;
//      prompt i samples with seed + i, so a response does not depend on the shard);
//   `analyze merge` gathers them in prompt order and writes the whole responses.json into every shard
//   directory (and the merged one);
//   2. capture: rerun, the shard finds responses.json and captures its batches of the fixed capture plan
//      (batch i mod N, as `capture --shard`), recording the statistics' plan;
//   `analyze merge` again finalizes the store and runs the statistics once, on it (merge.ts).
// With --responses given there is nothing to generate: the shards start at the capture.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CaptureResult } from '../capture/capture.ts';
import { withDirLock } from '../runs/lock.ts';
import type { Session } from '../session.ts';
import type { Shard } from '../shards/environment.ts';
import { checkShardDir, readManifest, SHARD_FILE, SHARD_FORMAT, writeManifest } from '../shards/manifest.ts';
import { shardUnits } from '../shards/partition.ts';
import type { StoreMeta } from '../store/schema.ts';
import { DISCOVERY_COMMAND, type DiscoveryOptions } from './options.ts';
import { promptId } from './pairs.ts';
import {
  capturePhase,
  type DiscoveryRun,
  generatePhase,
  RESPONSES_FILE,
  responsesPhase,
  type StatisticsPlan,
  STORE_DIR,
  startDiscovery,
  statisticsPlan,
} from './run.ts';

export const RESPONSES_PHASE = 'responses';
export const CAPTURE_PHASE = 'capture';

/** shard.json's finish after the responses phase: the responses to the shard's prompts, in its units' order. */
export interface ResponsesFinish {
  gen_key: string;
  responses: string[];
}

/** shard.json's finish after the capture phase: the store's meta.json and the statistics' plan. */
export interface CaptureShardFinish {
  meta: StoreMeta;
  statistics: StatisticsPlan;
}

export type ShardOutcome =
  | { phase: typeof RESPONSES_PHASE; prompts: number; total: number; already: boolean }
  | { phase: typeof CAPTURE_PHASE; result: CaptureResult };

const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function manifest(run: DiscoveryRun, shard: Shard, phase: string, unit: string, plan: number[]) {
  return {
    format: SHARD_FORMAT,
    command: DISCOVERY_COMMAND,
    settings_hash: run.settingsHash,
    shard,
    phase,
    unit,
    plan,
  } as const;
}

/** Runs the phase the shard directory `o.out` is at, holding its lock. */
export function runDiscoveryShard(setup: Session, o: DiscoveryOptions, shard: Shard): Promise<ShardOutcome> {
  return withDirLock(o.out, `shard directory ${o.out}`, async () => {
    const run = startDiscovery(setup, o, (hash) => checkShardDir(o.out, shard, hash));
    if (o.responses || existsSync(join(o.out, RESPONSES_FILE))) return capture(setup, run, shard);
    return responses(setup, run, shard);
  });
}

async function responses(setup: Session, run: DiscoveryRun, shard: Shard): Promise<ShardOutcome> {
  const { o } = run;
  const plan = indices(o.prompts.length);
  const mine = shardUnits(plan, shard);
  const head = manifest(run, shard, RESPONSES_PHASE, 'prompt', plan);
  const total = o.prompts.length;
  const before = existsSync(join(o.out, SHARD_FILE)) ? readManifest(o.out) : null;
  if (before?.phase === RESPONSES_PHASE && before.complete)
    return { phase: RESPONSES_PHASE, prompts: mine.length, total, already: true };
  writeManifest(o.out, { ...head, units: [], complete: false, finish: null }); // a killed shard is named unfinished
  const made = await generatePhase(setup, o, mine);
  const finish: ResponsesFinish = { gen_key: run.genKey, responses: made };
  const units = mine.map((i) => ({ unit: i, records: [promptId(i)] }));
  writeManifest(o.out, { ...head, units, complete: true, finish });
  return { phase: RESPONSES_PHASE, prompts: mine.length, total, already: false };
}

async function capture(setup: Session, run: DiscoveryRun, shard: Shard): Promise<ShardOutcome> {
  const all = await responsesPhase(setup, run);
  const head = (batches: number) => manifest(run, shard, CAPTURE_PHASE, 'batch', indices(batches));
  const { meta, result } = await capturePhase(setup, run, all, join(run.o.out, STORE_DIR), {
    spec: shard,
    onStart: (batches) => writeManifest(run.o.out, { ...head(batches), units: [], complete: false, finish: null }),
  });
  const finish: CaptureShardFinish = { meta, statistics: statisticsPlan(setup, run) };
  writeManifest(run.o.out, { ...head(result.planned), units: result.batches ?? [], complete: true, finish });
  return { phase: CAPTURE_PHASE, result };
}
