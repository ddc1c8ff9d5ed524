// analyze judge --shard: re-grading split by steering feature into one file per shard (here one shard by
// flag, one from a Kubernetes completion index); together they hold exactly the unsharded re-grade's trials.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Trial } from '../../lib/trials/types.ts';
import { assertExit, runCli } from '../support/cli.ts';

const trial = (id: string, feature: number, response: string): Trial => ({
  id,
  feature,
  feature_label: null,
  prompt: 'How do I bake bread?',
  seed: 1,
  condition: 'baseline',
  boost: 4,
  interventions: [{ hook: 'blocks.1.hook_resid_post', layer: 1, latent: feature, value: 4, mode: 'add' }],
  response,
  judge: null,
  error: null,
  provenance: { run: 'r1' },
});

test('judge --shard I/N and JOB_COMPLETION_INDEX: the shards re-grade disjoint features and together equal the whole re-grade', () => {
  const dir = mkdtempSync(join(tmpdir(), 'merge-judge-'));
  const input = join(dir, 'trials.jsonl');
  // features in order of first appearance: 9, 7, 11 → shard 0 of 2 holds 9 and 11, shard 1 holds 7
  const trials = [
    trial('a', 9, 'Tides follow the moon. Wait, back to bread: knead it.'),
    trial('b', 7, 'Bake the bread for forty minutes.'),
    trial('c', 9, 'Flour, water, salt.'),
    trial('d', 11, 'Volcanoes erupt. Anyway, bread needs yeast.'),
    trial('e', 7, 'Let it rise overnight.'),
  ];
  writeFileSync(input, trials.map((t) => `${JSON.stringify(t)}\n`).join(''));
  const args = (out: string) => ['judge', '--trials', input, '--judge', 'heuristic', '--out', join(dir, out)];
  assertExit(runCli(args('all.jsonl'), { cwd: dir }), 0);
  const s0 = runCli([...args('regraded.jsonl'), '--shard', '0/2'], { cwd: dir });
  assertExit(s0, 0, /shard 0\/2 from --shard 0\/2: the trials of its features → .*regraded\.shard-0-of-2\.jsonl/);
  const s1 = runCli([...args('regraded.jsonl'), '--shards', '2'], { cwd: dir, env: { JOB_COMPLETION_INDEX: '1' } });
  assertExit(s1, 0, /shard 1\/2 from JOB_COMPLETION_INDEX=1 with --shards 2/);
  const lines = (f: string) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean);
  const ids = (f: string) => lines(f).map((l) => JSON.parse(l).id);
  assert.deepEqual(ids('regraded.shard-0-of-2.jsonl').sort(), ['a', 'c', 'd']);
  assert.deepEqual(ids('regraded.shard-1-of-2.jsonl').sort(), ['b', 'e']);
  const sharded = [...lines('regraded.shard-0-of-2.jsonl'), ...lines('regraded.shard-1-of-2.jsonl')];
  assert.deepEqual(sharded.sort(), lines('all.jsonl').sort());
});
