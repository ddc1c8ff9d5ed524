// analyze ablate split into 3 shards run as three processes on the shipped organism — one by --shard, one
// from SLURM's array variables, one from a Kubernetes completion index, one of them killed mid-store and
// rerun — then merged: the trials and metrics.json equal the unsharded run's byte for byte. A missing
// shard, a duplicated one and a shard of other settings are each refused (exit 2) by name.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { assertExit, runCli, runCliInProcess, startCli } from '../support/cli.ts';
import { organismAblateArgs } from '../support/fixture-args.ts';

const dir = mkdtempSync(join(tmpdir(), 'merge-ablate-'));
const ARGS = organismAblateArgs('baseline,ablate,random', '--random-match', 'none');
const FULL = join(dir, 'full');
const SHARDS = join(dir, 'shards');
const MERGED = join(dir, 'merged');
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: dir, env });
/** A refusal before any work (exit 2), run in this process as a child would run it (test/support/cli.ts). */
const refused = (args: string[]) => runCliInProcess(args, { cwd: dir });
const read = (path: string) => readFileSync(path, 'utf8');
const lines = (path: string) => read(path).split('\n').filter(Boolean).sort();

before(async () => {
  assertExit(cli([...ARGS, '--out', FULL]), 0);
  assertExit(cli([...ARGS, '--out', SHARDS, '--shard', '0/3']), 0, /shard 0\/3 from --shard 0\/3/);
  // shard 1 as task 1 of `sbatch --array=0-2`, killed after its second trial is stored, then rerun
  const slurm = {
    SLURM_ARRAY_TASK_ID: '1',
    SLURM_ARRAY_TASK_MIN: '0',
    SLURM_ARRAY_TASK_MAX: '2',
    SLURM_ARRAY_TASK_COUNT: '3',
  };
  const first = startCli([...ARGS, '--out', SHARDS], {
    cwd: dir,
    env: slurm,
    stopAt: { op: 'write', path: 'shard-1-of-3/trials\\.jsonl$', nth: 2 },
  });
  await first.stopped;
  await first.kill();
  const rerun = cli([...ARGS, '--out', SHARDS], slurm);
  assertExit(rerun, 0, /shard 1\/3 from SLURM_ARRAY_TASK_ID=1 of SLURM_ARRAY_TASK_MIN\.\.MAX 0\.\.2/);
  assert.match(rerun.stdout, /shard done: 6 trials \(2 already done, 4 now\)/);
  // shard 2 as completion index 2 of an Indexed Job with 3 completions
  assertExit(
    cli([...ARGS, '--out', SHARDS, '--shards', '3'], { JOB_COMPLETION_INDEX: '2' }),
    0,
    /shard 2\/3 from JOB_COMPLETION_INDEX=2 with --shards 3/,
  );
});

test('3 shards merged equal the unsharded run: trials and metrics.json, byte for byte; merging again changes nothing', () => {
  const m = cli(['merge', MERGED, SHARDS]);
  assertExit(m, 0, /3 shards of one ablate run/);
  assert.equal(read(join(MERGED, 'metrics.json')), read(join(FULL, 'metrics.json')));
  assert.deepEqual(lines(join(MERGED, 'trials.jsonl')), lines(join(FULL, 'trials.jsonl')));
  assert.equal(lines(join(MERGED, 'trials.jsonl')).length, 3 * 2 * 3);
  assert.equal(read(join(MERGED, 'config.json')), read(join(FULL, 'config.json')), 'the same settings hash');
  assert.equal(read(join(MERGED, 'steering_pool.json')), read(join(FULL, 'steering_pool.json')));
  for (const f of ['summary.md', 'report.html']) assert.ok(read(join(MERGED, f)).length > 0, f);
  assert.equal(read(join(MERGED, 'figures/ablation-metrics.svg')), read(join(FULL, 'figures/ablation-metrics.svg')));
  const before = ['metrics.json', 'trials.jsonl', 'summary.md'].map((f) => read(join(MERGED, f)));
  assertExit(cli(['merge', MERGED, ...[0, 1, 2].map((i) => join(SHARDS, `shard-${i}-of-3`))]), 0);
  assert.deepEqual(
    ['metrics.json', 'trials.jsonl', 'summary.md'].map((f) => read(join(MERGED, f))),
    before,
  );
});

test('a missing shard, a duplicated shard and a shard of other settings are refused by name (exit 2)', async () => {
  const shard = (i: number) => join(SHARDS, `shard-${i}-of-3`);
  const missing = await refused(['merge', join(dir, 'm1'), shard(0), shard(2)]);
  assertExit(missing, 2, /missing shard 1\/3 \(1 feature: \d+\): run it \(--shard 1\/3, or array index 1\)/);
  const copy = join(dir, 'copy', 'shard-0-of-3');
  cpSync(shard(0), copy, { recursive: true });
  const twice = await refused(['merge', join(dir, 'm2'), shard(0), shard(1), shard(2), copy]);
  assertExit(twice, 2, new RegExp(`duplicated shard 0/3: given 2 times \\(${shard(0)}, ${copy}\\)`));
  const other = join(dir, 'other');
  assertExit(cli([...ARGS, '--seed', '1', '--out', other, '--shard', '2/3']), 0);
  const mixed = await refused(['merge', join(dir, 'm3'), shard(0), shard(1), join(other, 'shard-2-of-3')]);
  assertExit(
    mixed,
    2,
    /mixed settings: settings hash [0-9a-f]{12}… in .*shard-0-of-3, .*shard-1-of-3; settings hash [0-9a-f]{12}… in .*other\/shard-2-of-3/,
  );
  assert.doesNotMatch(missing.stdout + twice.stdout + mixed.stdout, /trials from/, 'nothing merged');
});

test('a shard directory holds one shard; a shard needs --out', async () => {
  assertExit(
    await refused([...ARGS, '--out', SHARDS, '--shard', '1/3', '--seed', '2']),
    2,
    /holds a run with other settings/,
  );
  assertExit(
    await refused([...ARGS, '--shard', '0/3']),
    2,
    /every shard of the run needs the same --out: give --out DIR/,
  );
  assertExit(await refused([...ARGS, '--shard', '3/3', '--out', SHARDS]), 2, /shard indices are 0-based/);
  assertExit(await refused([...ARGS, '--out', SHARDS, '--shards', '3']), 2, /neither is set: give --shard I\/3/);
});
