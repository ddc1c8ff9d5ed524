// Which shard a process is: --shard I/N parsed and bounded, and the index read from the schedulers'
// environment as SLURM and Kubernetes set it (values written out by hand from sbatch's and the Job
// controller's documented behaviour), with the source said; contradictions are input errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flagOf, InputError, SettingError } from '../../lib/errors.ts';
import { resolveShard } from '../../lib/shards/environment.ts';
import { SHARD_SETTINGS } from '../../lib/shards/settings.ts';
import { parseShard, shardDirName } from '../../lib/shards/spec.ts';

test('--shard I/N: 0-based, bounded, and named in errors', () => {
  assert.deepEqual(parseShard('2/8'), { index: 2, count: 8 });
  assert.deepEqual(parseShard(' 0 / 1 '), { index: 0, count: 1 });
  assert.equal(shardDirName({ index: 2, count: 8 }), 'shard-2-of-8');
  assert.throws(
    () => parseShard('3/3'),
    (e: Error) => e instanceof SettingError && /0-based.*\[0, 2\]/.test(e.message),
  );
  assert.throws(() => parseShard('1/0'), /N must be an integer in \[1, 100000\]/);
  for (const bad of ['1', '-1/3', '1/3/4', 'a/b', '1.5/3', ''])
    assert.throws(() => parseShard(bad), /expected I\/N/, bad);
  // through the settings table: the command line's text becomes the library's value
  assert.deepEqual(SHARD_SETTINGS.shard.parse!('1/4', 'shard'), { index: 1, count: 4 });
  assert.equal(SHARD_SETTINGS.shard.parse!('none', 'shard'), 'none');
  assert.equal(SHARD_SETTINGS.shard.key, null, 'not part of the settings hash: every shard of a run has the same');
  assert.equal(SHARD_SETTINGS.shards.key, null);
});

test('no flag and no scheduler: the whole run', () => {
  assert.equal(resolveShard({}, {}), null);
  assert.equal(resolveShard({ shard: 'none' }, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }), null);
});

test('an explicit --shard wins over the environment and says so', () => {
  const s = resolveShard({ shard: { index: 1, count: 3 } }, { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3' });
  assert.deepEqual(s, { index: 1, count: 3, source: '--shard 1/3' });
  assert.throws(() => resolveShard({ shard: { index: 1, count: 3 }, shards: 4 }, {}), /disagree/);
});

test('SLURM: the position of the task in its array range MIN..MAX by STEP', () => {
  // sbatch --array=0-7: tasks 0..7
  const a = {
    SLURM_ARRAY_TASK_MIN: '0',
    SLURM_ARRAY_TASK_MAX: '7',
    SLURM_ARRAY_TASK_COUNT: '8',
    SLURM_ARRAY_JOB_ID: '991',
  };
  assert.deepEqual(resolveShard({}, { ...a, SLURM_ARRAY_TASK_ID: '5' }), {
    index: 5,
    count: 8,
    source: 'SLURM_ARRAY_TASK_ID=5 of SLURM_ARRAY_TASK_MIN..MAX 0..7',
  });
  // sbatch --array=1-4: task 1 is shard 0, task 4 is shard 3
  const b = { SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '4', SLURM_ARRAY_TASK_COUNT: '4' };
  assert.deepEqual(
    [1, 2, 3, 4].map((id) => resolveShard({}, { ...b, SLURM_ARRAY_TASK_ID: String(id) })!.index),
    [0, 1, 2, 3],
  );
  // sbatch --array=10-20:5: tasks 10, 15, 20 are shards 0, 1, 2 of 3
  const c = {
    SLURM_ARRAY_TASK_MIN: '10',
    SLURM_ARRAY_TASK_MAX: '20',
    SLURM_ARRAY_TASK_STEP: '5',
    SLURM_ARRAY_TASK_COUNT: '3',
  };
  const s = resolveShard({}, { ...c, SLURM_ARRAY_TASK_ID: '15' })!;
  assert.deepEqual([s.index, s.count], [1, 3]);
  // COUNT alone (no MIN/MAX): the ID taken as 0-based
  const d = resolveShard({}, { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '3' })!;
  assert.deepEqual([d.index, d.count, d.source], [2, 3, 'SLURM_ARRAY_TASK_ID=2 of SLURM_ARRAY_TASK_COUNT=3']);
  // with --shards N the task id is the index: task 3 resubmitted alone (sbatch --array=3: MIN = MAX = 3) is still shard 3 of 8
  assert.deepEqual(
    resolveShard(
      { shards: 8 },
      { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_MAX: '3', SLURM_ARRAY_TASK_COUNT: '1' },
    ),
    { index: 3, count: 8, source: 'SLURM_ARRAY_TASK_ID=3 with --shards 8' },
  );
  assert.deepEqual(
    resolveShard({}, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_MAX: '3' }),
    { index: 0, count: 1, source: 'SLURM_ARRAY_TASK_ID=3 of SLURM_ARRAY_TASK_MIN..MAX 3..3' },
    'without --shards, a lone task is a run of one shard',
  );
  assert.throws(() => resolveShard({ shards: 4 }, { ...a, SLURM_ARRAY_TASK_ID: '5' }), /is not below shards 4/);
});

test('SLURM arrays that are not one range, and malformed values, are input errors naming the variables', () => {
  // sbatch --array=1,4,9: MIN 1, MAX 9, COUNT 3
  assert.throws(
    () =>
      resolveShard(
        {},
        { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '9', SLURM_ARRAY_TASK_COUNT: '3' },
      ),
    (e: Error) =>
      e instanceof InputError &&
      /SLURM_ARRAY_TASK_COUNT=3 but .* has 9 tasks: the array is not one range/.test(e.message),
  );
  assert.throws(
    () =>
      resolveShard(
        {},
        {
          SLURM_ARRAY_TASK_ID: '12',
          SLURM_ARRAY_TASK_MIN: '10',
          SLURM_ARRAY_TASK_MAX: '20',
          SLURM_ARRAY_TASK_STEP: '5',
        },
      ),
    /SLURM_ARRAY_TASK_ID=12 is not a task of SLURM_ARRAY_TASK_MIN..MAX 10..20 step 5/,
  );
  assert.throws(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: '3' }), /number of shards is unknown/);
  assert.throws(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '3' }), /must be below 3/);
  assert.throws(
    () => resolveShard({}, { SLURM_ARRAY_TASK_ID: 'x1', SLURM_ARRAY_TASK_COUNT: '3' }),
    /SLURM_ARRAY_TASK_ID="x1": expected a non-negative integer/,
  );
});

test('Kubernetes Indexed Job: JOB_COMPLETION_INDEX with --shards N', () => {
  assert.deepEqual(resolveShard({ shards: 4 }, { JOB_COMPLETION_INDEX: '3' }), {
    index: 3,
    count: 4,
    source: 'JOB_COMPLETION_INDEX=3 with --shards 4',
  });
  // as the command line prints them: settings rendered as flags
  const cli = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return e instanceof SettingError ? e.render(flagOf) : String(e);
    }
    return 'no error';
  };
  assert.match(
    cli(() => resolveShard({}, { JOB_COMPLETION_INDEX: '3' })),
    /give --shards N \(the Job's completions\)/,
  );
  assert.match(
    cli(() => resolveShard({ shards: 3 }, { JOB_COMPLETION_INDEX: '3' })),
    /not below --shards 3/,
  );
  assert.throws(() => resolveShard({ shards: 3 }, {}), /neither is set/);
  assert.throws(() => resolveShard({ shard: 'none', shards: 3 }, {}), /conflict/);
});
