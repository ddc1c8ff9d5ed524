// Cross-judge agreement (`analyze judge --agreement A B`) against independently computed values:
// Cohen's κ from its definition (exact fractions), Pearson and Spearman from scipy
// (test/fixtures/judge/make_agreement.py writes the two gradings and the expected values).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { judgeAgreement } from '../../lib/judge/agreement.ts';
import { cohenKappa } from '../../lib/stats/agreement.ts';
import { loadTrials } from '../../lib/trials/paper.ts';
import { assertExit, runCli } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures', 'judge');
const A = join(FIX, 'agreement_a.jsonl');
const B = join(FIX, 'agreement_b.jsonl');
const expected = JSON.parse(readFileSync(join(FIX, 'agreement_expected.json'), 'utf8'));
const close = (x: number | null, y: number, what: string) =>
  assert.ok(x !== null && Math.abs(x - y) < 1e-12, `${what}: ${x} vs ${y}`);

test('agreement on 40 shared trials matches the reference (κ exact, Pearson/Spearman scipy)', () => {
  const g = judgeAgreement({ path: A, ...loadTrials(A) }, { path: B, ...loadTrials(B) });
  assert.equal(g.matched_by, 'id');
  assert.deepEqual(
    [g.trials.matched, g.trials.only_a, g.trials.only_b, g.trials.counted_by_both],
    [expected.matched, expected.only_a, expected.only_b, expected.counted_by_both],
  );
  assert.deepEqual(g.trials.excluded_b, { judge_error: 1 });
  for (const m of ['multi_attempt', 'esr'] as const) {
    for (const k of ['agreement', 'kappa', 'rate_a', 'rate_b'] as const) close(g[m][k], expected[m][k], `${m}.${k}`);
  }
  close(g.same_attempt_count, expected.same_attempt_count, 'same_attempt_count');
  close(g.first_score.pearson, expected.pearson, 'pearson');
  close(g.first_score.spearman, expected.spearman, 'spearman');
  close(g.first_score.mean_abs_diff, expected.mean_abs_diff, 'mean_abs_diff');
  assert.deepEqual(g.judges, { a: ['openai:judge-a'], b: ['anthropic:judge-b'] });
});

test("Cohen's κ: a hand-worked table, and undefined when both raters are constant", () => {
  // 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.4
  const a = [...Array(25).fill(true), ...Array(25).fill(false)];
  const b = [...Array(20).fill(true), ...Array(5).fill(false), ...Array(10).fill(true), ...Array(15).fill(false)];
  const k = cohenKappa(a, b);
  assert.deepEqual(k.table, [15, 10, 5, 20]);
  close(k.kappa, 0.4, 'kappa');
  assert.equal(cohenKappa([false, false], [false, false]).kappa, null);
});

test('analyze judge --agreement: prints the table, writes JSON; bad usage exits 2', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'agreement-')), 'agreement.json');
  const r = runCli(['judge', '--agreement', A, B, '--out', out]);
  assertExit(r, 0);
  assert.match(
    r.stdout,
    /41 trials in both \(matched by trial id; 1 only in A, 1 only in B\); excluded by A: none; by B: judge_error 1; counted by both: 40/,
  );
  assert.match(r.stdout, /\| multi-attempt \| 37\.5% \| 42\.5% \| 90\.0% \| 0\.792 \|/);
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).trials.counted_by_both, 40);
  const one = runCli(['judge', '--agreement', A]);
  assertExit(one, 2, /--agreement: expected two trial files A B, found \["[^"]*agreement_a\.jsonl"\]/);
});
