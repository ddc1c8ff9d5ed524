// find-otd-latents split into 3 shards run as three processes — one by --shard, one from SLURM's array
// variables (killed after its first capture batch is stored, then rerun), one from a Kubernetes completion
// index — in its two phases (responses, merged; capture, merged with the statistics), on the shipped
// organism at small settings: the merged responses, store, latents.json, ranking.arrow and summary.md equal
// the unsharded run's byte for byte (that run is made here, so a changed shipped model changes both).
// Missing, duplicated, unfinished, mixed-settings and mixed-phase shards are refused by name, exit 2, and
// merging again changes nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { assertExit, ROOT, runCli, startCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'merge-discovery-'));
const prompts = join(dir, 'prompts.txt');
const shipped = readFileSync(join(ROOT, 'data', 'prompts.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.trim());
writeFileSync(prompts, `${shipped.slice(0, 6).join('\n')}\n`);
// 6 prompts × (own response + 2 others') = 18 samples in 9 capture batches of 2: 3 batches a shard
const ARGS = [
  'find-otd-latents',
  '--prompts',
  prompts,
  '--max-tokens',
  '8',
  '--derangements',
  '2',
  '--batch-size',
  '2',
];
const FULL = join(dir, 'full');
const SHARDS = join(dir, 'shards');
const MERGED = join(dir, 'merged');
const shard = (i: number) => join(SHARDS, `shard-${i}-of-3`);
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env });
const slurm = {
  SLURM_ARRAY_TASK_ID: '1',
  SLURM_ARRAY_TASK_MIN: '0',
  SLURM_ARRAY_TASK_MAX: '2',
  SLURM_ARRAY_TASK_COUNT: '3',
};
const k8s = { JOB_COMPLETION_INDEX: '2' };
// every shard runs the same command; where its index comes from differs
const runShard = (i: number) =>
  i === 0
    ? cli([...ARGS, '--out', SHARDS, '--shard', '0/3'])
    : i === 1
      ? cli([...ARGS, '--out', SHARDS], slurm)
      : cli([...ARGS, '--out', SHARDS, '--shards', '3'], k8s);
const OUTPUTS = [
  'latents.json',
  'ranking.arrow',
  'summary.md',
  'responses.json',
  'config.json',
  ...['codes.arrow', 'samples.arrow', 'meta.json', 'capture-settings.json'].map((f) => join('activations.acts', f)),
];
const bytes = (run: string) => OUTPUTS.map((f) => readFileSync(join(run, f)));

before(() => assertExit(cli([...ARGS, '--out', FULL]), 0));

test('phase 1: each shard generates its prompts; the merge gathers the responses the unsharded run generated', () => {
  assertExit(runShard(0), 0, /shard 0\/3 from --shard 0\/3/);
  const one = runShard(1);
  assertExit(one, 0, /shard 1\/3 from SLURM_ARRAY_TASK_ID=1 of SLURM_ARRAY_TASK_MIN\.\.MAX 0\.\.2/);
  assert.match(one.stdout, /responses to 2 of 6 prompts done/);
  assertExit(cli(['merge', MERGED, SHARDS]), 2, /missing shard 2\/3 \(2 prompts: 2, 5\)/);
  assertExit(runShard(2), 0, /shard 2\/3 from JOB_COMPLETION_INDEX=2 with --shards 3/);
  assert.match(runShard(2).stdout, /responses to 2 of 6 prompts already done/); // a rerun generates nothing
  assertExit(cli(['merge', MERGED, SHARDS]), 0, /at its responses phase/);
  const full = readFileSync(join(FULL, 'responses.json'));
  assert.deepEqual(readFileSync(join(MERGED, 'responses.json')), full);
  for (const i of [0, 1, 2]) assert.deepEqual(readFileSync(join(shard(i), 'responses.json')), full);
});

test('phase 2: mixed phases and a killed shard are refused by name; rerun, the shard resumes', async () => {
  assertExit(runShard(0), 0);
  const killed = startCli([...ARGS, '--out', SHARDS], {
    env: slurm,
    stopAt: { op: 'rename', path: 'shard-1-of-3/activations\\.acts/parts/\\d+\\.samples\\.arrow$', nth: 1 },
  });
  await killed.stopped;
  await killed.kill();
  assertExit(
    cli(['merge', MERGED, SHARDS]),
    2,
    /shards at different phases: capture in .*shard-0-of-3, .*shard-1-of-3; responses in .*shard-2-of-3/,
  );
  assertExit(runShard(2), 0);
  assertExit(
    cli(['merge', MERGED, SHARDS]),
    2,
    /shard 1\/3 in .*shard-1-of-3 has not finished: rerun the same command/,
  );
  const rerun = runShard(1);
  assertExit(rerun, 0);
  assert.match(rerun.stdout, /3 of 9 capture batches \(4 samples captured now, 2 already there\)/);
});

test('the merged run equals the unsharded one byte for byte; merging again changes nothing', () => {
  const merged = cli(['merge', MERGED, SHARDS]);
  assertExit(merged, 0, /at its capture phase/);
  assert.match(merged.stdout, /12 off-topic vs 6 on-topic samples; within-prompt test over 6 prompts \(K = 2\)/);
  const full = bytes(FULL);
  assert.deepEqual(bytes(MERGED), full);
  assertExit(cli(['merge', MERGED, SHARDS]), 0);
  assert.deepEqual(bytes(MERGED), full);
});

test('duplicated and other-settings shards are refused by name, exit 2', () => {
  assertExit(cli(['merge', join(dir, 'm1'), SHARDS, shard(0)]), 2, /duplicated shard 0\/3: given 2 times/);
  const other = join(dir, 'other');
  assertExit(cli([...ARGS, '--seed', '1', '--out', other, '--shard', '2/3']), 0);
  assertExit(
    cli(['merge', join(dir, 'm2'), shard(0), shard(1), join(other, 'shard-2-of-3')]),
    2,
    /mixed settings: settings hash .* in .*shard-0-of-3, .*shard-1-of-3; settings hash .* in .*other/,
  );
});
