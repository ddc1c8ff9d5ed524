// analyze capture split into 3 shards run as three processes — one by --shard, one from SLURM's array
// variables (killed after its first batch is stored, then rerun), one from a Kubernetes completion index —
// then merged: the activation store equals the unsharded capture's byte for byte (codes.arrow,
// samples.arrow, meta.json). Missing, duplicated and unfinished shards and shards of other settings are
// refused (exit 2) by name, and merging again changes nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { assertExit, runCli, runCliInProcess, startCli } from '../support/cli.ts';
import { fixtureCaptureArgs } from '../support/fixture-args.ts';

const dir = mkdtempSync(join(tmpdir(), 'merge-capture-'));
// batch size 1: five batches, so each shard holds one or two and the SLURM one is stopped between its two
const ARGS = [...fixtureCaptureArgs(), '--backend', 'wasm', '--batch-size', '1'];
const FULL = join(dir, 'full.acts');
const SHARDS = join(dir, 'shards.acts');
const MERGED = join(dir, 'merged.acts');
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: dir, env });
/** A refusal before any work (exit 2), run in this process as a child would run it (test/support/cli.ts). */
const refused = (args: string[]) => runCliInProcess(args, { cwd: dir });
const STORE_FILES = ['codes.arrow', 'samples.arrow', 'meta.json', 'capture-settings.json'];
const bytes = (store: string) => STORE_FILES.map((f) => readFileSync(join(store, f)));
const slurm = {
  SLURM_ARRAY_TASK_ID: '1',
  SLURM_ARRAY_TASK_MIN: '0',
  SLURM_ARRAY_TASK_MAX: '2',
  SLURM_ARRAY_TASK_COUNT: '3',
};

before(async () => {
  assertExit(cli([...ARGS, '--out', FULL]), 0);
  assertExit(cli([...ARGS, '--out', SHARDS, '--shard', '0/3']), 0, /shard 0\/3 from --shard 0\/3/);
  const first = startCli([...ARGS, '--out', SHARDS], {
    cwd: dir,
    env: slurm,
    stopAt: { op: 'rename', path: 'shard-1-of-3/parts/\\d+\\.samples\\.arrow$', nth: 1 },
  });
  await first.stopped;
  await first.kill();
});

test('a killed shard is named unfinished; rerun with the same index it resumes', async () => {
  const early = await refused(['merge', MERGED, SHARDS]);
  assertExit(early, 2, /shard 1\/3 .* has not finished: rerun the same command with the same index/);
  assertExit(await refused(['merge', MERGED, SHARDS]), 2, /missing shard 2\/3 \(1 batch: 2\)/);
  const rerun = cli([...ARGS, '--out', SHARDS], slurm);
  assertExit(rerun, 0, /shard 1\/3 from SLURM_ARRAY_TASK_ID=1 of SLURM_ARRAY_TASK_MIN\.\.MAX 0\.\.2/);
  assert.match(rerun.stdout, /2 of 5 batches \(1 samples captured now, 1 already there\)/);
  const k8s = cli([...ARGS, '--out', SHARDS, '--shards', '3'], { JOB_COMPLETION_INDEX: '2' });
  assertExit(k8s, 0, /shard 2\/3 from JOB_COMPLETION_INDEX=2 with --shards 3/);
});

test('the merged store equals the unsharded capture byte for byte; merging again changes nothing', () => {
  assertExit(cli(['merge', MERGED, SHARDS]), 0);
  assert.deepEqual(bytes(MERGED), bytes(FULL));
  assertExit(cli(['merge', MERGED, SHARDS]), 0);
  assert.deepEqual(bytes(MERGED), bytes(FULL));
});

test('missing, duplicated and other-settings shards are refused by name, exit 2', async () => {
  const shard = (i: number) => join(SHARDS, `shard-${i}-of-3`);
  assertExit(await refused(['merge', join(dir, 'm1'), shard(0), shard(1)]), 2, /missing shard 2\/3/);
  assertExit(await refused(['merge', join(dir, 'm2'), SHARDS, shard(0)]), 2, /duplicated shard 0\/3: given 2 times/);
  const other = join(dir, 'other.acts');
  const layer0 = ARGS.map((a, i) => (ARGS[i - 1] === '--layer' ? '0' : a)); // other settings, the same plan
  assertExit(cli([...layer0, '--out', other, '--shard', '2/3']), 0);
  assertExit(
    await refused(['merge', join(dir, 'm3'), shard(0), shard(1), join(other, 'shard-2-of-3')]),
    2,
    /mixed settings: settings hash .* in .*shard-0-of-3, .*shard-1-of-3; settings hash .* in .*other\.acts/,
  );
});
