// The paper's other arms and defaults, by hand: the degraded-output filter, the meta-prompt in the
// user turn (or a system message), a calibrated threshold at the bisection bound, and
// `analyze metrics --exclude-degraded` as a sensitivity analysis.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_BISECTION } from '../../lib/experiments/bisection.ts';
import { boundOf, type Calibration } from '../../lib/experiments/calibrate.ts';
import { renderPrompt, userTurn } from '../../lib/experiments/steered.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { isDegraded } from '../../lib/trials/degraded.ts';
import type { Trial } from '../../lib/trials/types.ts';
import { assertExit, runCli } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('degraded: a run of ≥ 5 identical consecutive words longer than one character', () => {
  assert.equal(isDegraded('the the the the the'), true);
  assert.equal(isDegraded('To bake: mix mix mix mix\nmix   flour.'), true, 'any whitespace separates words');
  assert.equal(isDegraded('the the the the'), false, 'four is not enough');
  assert.equal(isDegraded('a a a a a a a a'), false, 'one-character words never count');
  assert.equal(isDegraded('ha ha ha ha ha.'), false, '"ha." differs from "ha"');
  assert.equal(isDegraded('go go go go stop go go go go'), false, 'the run must be consecutive');
  assert.equal(isDegraded(''), false);
});

test("meta-prompt: appended to the user turn by default (the paper's way), or a system message", () => {
  const tok = loadTokenizer(join(ROOT, 'test/fixtures/tokenizers/llama3'));
  const meta = 'Notice when you drift.';
  assert.equal(
    userTurn('Explain tides.', { text: meta, placement: 'user' }),
    'Explain tides.\n\nNotice when you drift.',
  );
  assert.equal(userTurn('Explain tides.', { text: meta, placement: 'system' }), 'Explain tides.');
  const user = tok.decode(renderPrompt(tok, 'Explain tides.', { text: meta, placement: 'user' }), {
    skipSpecialTokens: false,
  });
  const system = tok.decode(renderPrompt(tok, 'Explain tides.', { text: meta, placement: 'system' }), {
    skipSpecialTokens: false,
  });
  assert.match(
    user,
    /<\|start_header_id\|>user<\|end_header_id\|>\n\nExplain tides\.\n\nNotice when you drift\.<\|eot_id\|>/,
  );
  assert.doesNotMatch(user, /<\|start_header_id\|>system<\|end_header_id\|>\n\nNotice/);
  assert.match(
    system,
    /<\|start_header_id\|>system<\|end_header_id\|>\n\n(?:[^<]*\n\n)?Notice when you drift\.<\|eot_id\|>/,
  );
  assert.match(system, /user<\|end_header_id\|>\n\nExplain tides\.<\|eot_id\|>/);
});

test('calibration: a threshold within 1% of the range from a bound is flagged', () => {
  const c = (threshold: number): Calibration => ({
    feature: 1,
    threshold,
    history: [],
    settings: { lo: 0, hi: 10, priorMean: 5, priorSd: 2.5, target: 0.3, ...DEFAULT_BISECTION },
  });
  assert.deepEqual(
    [boundOf(c(0)), boundOf(c(0.1)), boundOf(c(0.11)), boundOf(c(5)), boundOf(c(9.9)), boundOf(c(10))],
    ['lo', 'lo', null, null, 'hi', 'hi'],
  );
});

test('analyze metrics --exclude-degraded: the headline keeps degraded outputs; the sensitivity table drops them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'degraded-'));
  const trial = (i: number, condition: string, response: string, scores: number[]): Trial => ({
    id: `t${i}`,
    feature: i % 3,
    feature_label: null,
    prompt: 'p',
    seed: i,
    condition,
    boost: 1,
    interventions: [],
    response,
    error: null,
    provenance: {},
    judge: { id: 'openai:m', attempts: scores.map((score) => ({ text: 'x', score })), raw: null, error: null },
  });
  const trials = [
    ...[0, 1, 2, 3, 4, 5].map((i) =>
      trial(i, 'baseline', i < 2 ? 'loop loop loop loop loop' : 'fine answer', i < 2 ? [10, 50] : [30]),
    ),
    ...[6, 7, 8, 9, 10, 11].map((i) => trial(i, 'ablate', 'fine answer', [30])),
  ];
  const store = join(dir, 'trials.jsonl');
  writeFileSync(store, `${trials.map((t) => JSON.stringify(t)).join('\n')}\n`);
  const out = join(dir, 'metrics.json');
  const r = runCli(['metrics', '--trials', store, '--resamples', '200', '--exclude-degraded', '--out', out]);
  assertExit(r, 0);
  assert.match(
    r.stdout,
    /## Sensitivity: degraded outputs excluded \(a run of ≥ 5 identical consecutive whitespace-separated words longer than one character\)/,
  );
  assert.match(r.stdout, /excluded: baseline 2, ablate 0/);
  const m = JSON.parse(readFileSync(out, 'utf8'));
  // headline: 2 of 6 baseline trials are multi-attempt; without the degraded two, none of 4
  assert.equal(m.conditions.baseline.metrics.multi_attempt_rate.estimate, 2 / 6);
  assert.equal(m.sensitivity.exclude_degraded.report.conditions.baseline.n_trials, 4);
  assert.equal(m.sensitivity.exclude_degraded.report.conditions.baseline.metrics.multi_attempt_rate.estimate, 0);
  assert.deepEqual(m.sensitivity.exclude_degraded.excluded, { baseline: 2 });
});
