// A boost sweep split into 2 shards on the shipped organism: its levels are spaced by every feature's
// calibrated threshold, so a shard calibrates its own features into the calibration cache its run's shards
// share (<out>/calibration) and sweeps only once every feature is calibrated there; until then it stays
// unfinished (the merge refuses it by name) and is run again. Merged, the trials and metrics.json (with
// its per-level reports) equal the unsharded sweep's byte for byte.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertExit, runCli } from '../support/cli.ts';
import { organismAblateArgs } from '../support/fixture-args.ts';

const dir = mkdtempSync(join(tmpdir(), 'merge-sweep-'));
const ARGS = organismAblateArgs('baseline,ablate', '--boost-sweep', '2');
const FULL = join(dir, 'full');
const SHARDS = join(dir, 'shards');
const MERGED = join(dir, 'merged');
const cli = (args: string[]) => runCli(args, { cwd: dir });
const read = (path: string) => readFileSync(path, 'utf8');
const lines = (path: string) => read(path).split('\n').filter(Boolean).sort();

test('a sharded sweep: shards calibrate, wait for the others, sweep; merged it equals the unsharded sweep', () => {
  assertExit(cli([...ARGS, '--out', FULL]), 0);
  // shard 0 first: shard 1's feature is not calibrated yet, so it calibrates its own and waits
  const first = cli([...ARGS, '--out', SHARDS, '--shard', '0/2']);
  assertExit(first, 0);
  assert.match(first.stdout, /shard calibrated; 1 feature\(s\) of other shards not calibrated yet/);
  // shard 1 finds shard 0's calibrations in the shared cache: it calibrates its own and sweeps at once
  assert.match(
    cli([...ARGS, '--out', SHARDS, '--shard', '1/2']).stdout,
    /shard done: 8 trials \(0 already done, 8 now\)/,
  );
  assertExit(
    cli(['merge', MERGED, SHARDS]),
    2,
    /shard 0\/2 in .*shard-0-of-2 has not finished: rerun the same command/,
  );
  // run again, shard 0 reuses its cached calibrations and sweeps: 2 features × 2 draws × 2 conditions × 2 levels
  const again = cli([...ARGS, '--out', SHARDS, '--shard', '0/2']);
  assert.match(again.stdout, /shard done: 16 trials \(0 already done, 16 now\)/);
  assertExit(cli(['merge', MERGED, SHARDS]), 0);
  assert.equal(read(join(MERGED, 'metrics.json')), read(join(FULL, 'metrics.json')));
  assert.deepEqual(lines(join(MERGED, 'trials.jsonl')), lines(join(FULL, 'trials.jsonl')));
  assert.equal(lines(join(MERGED, 'trials.jsonl')).length, 3 * 2 * 2 * 2);
  assert.ok(JSON.parse(read(join(MERGED, 'metrics.json'))).levels.length === 2, 'per-level reports');
});
