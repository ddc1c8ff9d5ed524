// Merge checks on shard manifests: the round-robin partition (hand-computed), shard.json validation naming
// the field, and every way a set of shard directories can fail to be one run — missing, duplicated,
// unfinished, mixed settings, mixed counts, mixed phases — named in one input error.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import {
  checkShardDir,
  readManifest,
  SHARD_FORMAT,
  type ShardManifest,
  writeManifest,
} from '../../lib/shards/manifest.ts';
import { checkShards, recordsInPlanOrder, type ShardEntry } from '../../lib/shards/check.ts';
import { shardUnitCount, shardUnits } from '../../lib/shards/partition.ts';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);
const PLAN = [17, 4, 9, 30, 2, 11, 8];

function entry(
  index: number,
  count: number,
  o: Partial<ShardManifest> = {},
  dir = `runs/x/shard-${index}-of-${count}`,
): ShardEntry {
  const plan = o.plan ?? PLAN;
  const units = shardUnits(plan, { index, count }).map((u) => ({ unit: u, records: [`${u}:a`, `${u}:b`] }));
  return {
    dir,
    manifest: {
      format: SHARD_FORMAT,
      command: 'ablate',
      settings_hash: H1,
      shard: { index, count, source: `--shard ${index}/${count}` },
      unit: 'feature',
      plan,
      units,
      complete: true,
      finish: null,
      ...o,
    },
  };
}

const problems = (entries: ShardEntry[]): string => {
  try {
    checkShards(entries);
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e.message;
  }
  return 'no error';
};

test('the partition is round-robin over the plan order, disjoint and covering', () => {
  assert.deepEqual(shardUnits(PLAN, { index: 0, count: 3 }), [17, 30, 8]);
  assert.deepEqual(shardUnits(PLAN, { index: 1, count: 3 }), [4, 2]);
  assert.deepEqual(shardUnits(PLAN, { index: 2, count: 3 }), [9, 11]);
  assert.deepEqual(shardUnits(PLAN, { index: 0, count: 1 }), PLAN);
  assert.deepEqual(shardUnits([1, 2], { index: 3, count: 4 }), [], 'more shards than units: some are empty');
});

test('a complete set merges, records in plan order', () => {
  const set = checkShards([entry(2, 3), entry(0, 3), entry(1, 3)]);
  assert.equal(set.count, 3);
  assert.deepEqual(
    set.shards.map((s) => s.manifest.shard.index),
    [0, 1, 2],
  );
  assert.deepEqual(
    recordsInPlanOrder(set),
    PLAN.flatMap((u) => [`${u}:a`, `${u}:b`]),
  );
});

test('missing, duplicated and unfinished shards are all named', () => {
  const m = problems([entry(0, 3), entry(0, 3, {}, 'elsewhere/shard-0-of-3'), entry(1, 3, { complete: false })]);
  assert.match(m, /duplicated shard 0\/3: given 2 times \(runs\/x\/shard-0-of-3, elsewhere\/shard-0-of-3\)/);
  assert.match(m, /missing shard 2\/3 \(2 features: 9, 11\): run it \(--shard 2\/3, or array index 2\)/);
  assert.match(m, /shard 1\/3 in runs\/x\/shard-1-of-3 has not finished: rerun the same command with the same index/);
});

test('mixed settings and mixed counts never merge', () => {
  const m = problems([entry(0, 2), entry(1, 2, { settings_hash: H2 }, 'other/shard-1-of-2')]);
  assert.match(
    m,
    /mixed settings: settings hash aaaaaaaaaaaa… in runs\/x\/shard-0-of-2; settings hash bbbbbbbbbbbb… in other\/shard-1-of-2/,
  );
  assert.match(
    problems([entry(0, 2), entry(1, 3), entry(2, 3)]),
    /mixed shard counts: N = 2 in runs\/x\/shard-0-of-2; N = 3 in/,
  );
  assert.match(problems([entry(0, 2), entry(1, 2, { command: 'capture' })]), /shards of different commands/);
  assert.match(problems([entry(0, 2), entry(1, 2, { plan: [1, 2, 3] })]), /plans differ/);
  const wrong = entry(1, 2);
  wrong.manifest.units = [{ unit: 17, records: [] }];
  assert.match(problems([entry(0, 2), wrong]), /shard 1\/2 in .* holds other units than its part of the plan/);
  assert.match(problems([]), /no shard directories given/);
});

test('shard.json is validated, and a directory holds one shard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shards-'));
  assert.throws(() => readManifest(dir), /no shard\.json \(not a shard directory\)/);
  const e = entry(1, 3);
  writeManifest(dir, e.manifest);
  assert.deepEqual(readManifest(dir), e.manifest);
  checkShardDir(dir, e.manifest.shard, H1);
  assert.throws(
    () => checkShardDir(dir, { index: 2, count: 3, source: 'SLURM_ARRAY_TASK_ID=2' }, H1),
    /holds shard 1\/3 \(--shard 1\/3\), not 2\/3 \(SLURM_ARRAY_TASK_ID=2\)/,
  );
  assert.throws(() => checkShardDir(dir, e.manifest.shard, H2), /other settings/);
  writeFileSync(join(dir, 'shard.json'), JSON.stringify({ ...e.manifest, settings_hash: 'xyz' }));
  assert.throws(() => readManifest(dir), /shard\.json: field settings_hash is missing or malformed/);
  writeFileSync(join(dir, 'shard.json'), JSON.stringify({ ...e.manifest, shard: { index: 3, count: 3, source: '' } }));
  assert.throws(() => readManifest(dir), /field shard is missing/);
});

test('shards at different phases of a phased run are refused by name; one phase, and shardUnitCount, agree', () => {
  const msg = problems([
    entry(0, 3, { phase: 'capture' }),
    entry(1, 3, { phase: 'responses' }),
    entry(2, 3, { phase: 'capture' }),
  ]);
  assert.match(
    msg,
    /shards at different phases: capture in runs\/x\/shard-0-of-3, runs\/x\/shard-2-of-3; responses in runs\/x\/shard-1-of-3/,
  );
  const set = checkShards([0, 1, 2].map((i) => entry(i, 3, { phase: 'capture' })));
  assert.equal(set.phase, 'capture');
  // 7 units over 3 shards: 3, 2, 2; over 10 shards: 1 each for the first 7, none for the last 3
  assert.deepEqual(
    [0, 1, 2].map((index) => shardUnitCount(7, { index, count: 3 })),
    [3, 2, 2],
  );
  assert.deepEqual(
    [6, 7, 9].map((index) => shardUnitCount(7, { index, count: 10 })),
    [1, 0, 0],
  );
});
