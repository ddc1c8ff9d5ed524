// lib/model/sampling.ts against transformers' logits processors (repetition penalty, temperature, top-k,
// top-p) followed by an inverse-CDF draw with the same uniform: test/fixtures/sampling/make_sampling.py.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nextToken, nthLargest, type SamplingOptions } from '../../lib/model/sampling.ts';

interface Case {
  settings: SamplingOptions;
  logits: number[];
  seen: number[];
  u: number;
  token: number;
}

const CASES: Case[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'sampling', 'sampling.json'), 'utf8'),
);

test('nextToken picks the token transformers would for the same uniform (penalty, temperature, top-k with ties, top-p)', () => {
  assert.equal(CASES.length, 108);
  for (const [i, c] of CASES.entries()) {
    const logits = Float32Array.from(c.logits);
    const got = nextToken(logits, c.seen, c.settings, c.u);
    assert.equal(got, c.token, `case ${i}: ${JSON.stringify(c.settings)} vocab ${logits.length} u ${c.u}`);
    assert.deepEqual(Array.from(logits), Array.from(Float32Array.from(c.logits)), 'logits left as they were');
  }
});

test('nthLargest is the n-th value of a descending sort, ties counted', () => {
  const x = Float32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]);
  const sorted = Array.from(x).sort((a, b) => b - a);
  for (let n = 1; n <= x.length; n++) assert.equal(nthLargest(x, n), sorted[n - 1], `n = ${n}`);
});
