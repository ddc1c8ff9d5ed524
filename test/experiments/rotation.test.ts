// The rotation control's rows: W_dec[ablated]'s Gram matrix kept, every row orthogonal to W_dec[ablated]'s span,
// seeded (same seed and set: the same rows; another set: other rows), rank-deficient rows handled, and d_in < 2r
// refused. Checked by hand-computed inner products on made-up rows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { Rng } from '../../lib/random.ts';
import { rotatedRows, rotationSets } from '../../lib/experiments/rotation.ts';

const D = 24;
/** k made-up rows of width D (row-major), seeded. */
function madeRows(k: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: k * D }, () => rng.float() * 2 - 1);
}
const row = (m: Float32Array, i: number) => m.subarray(i * D, (i + 1) * D);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

test('rotated rows keep the Gram matrix and are orthogonal to every original row', () => {
  const R = madeRows(6, 1);
  const { rows, rank } = rotatedRows(R, D, new Rng(9, 2));
  assert.equal(rank, 6);
  for (let i = 0; i < 6; i++)
    for (let j = 0; j < 6; j++) {
      const want = dot(row(R, i), row(R, j));
      assert.ok(Math.abs(dot(row(rows, i), row(rows, j)) - want) < 1e-5, `Gram[${i},${j}]`);
      assert.ok(Math.abs(dot(row(rows, i), row(R, j))) < 1e-5, `rotated ${i} · original ${j}`);
    }
  // and the removed norm at a token, ‖Σ f_a·r_a‖, is the original's for any codes
  const f = [0.5, 0, 2, 1.25, 0, 3];
  const sum = (m: Float32Array) =>
    Array.from({ length: D }, (_, d) => f.reduce((s, fa, a) => s + fa * m[a * D + d], 0));
  assert.ok(Math.abs(Math.hypot(...sum(rows)) - Math.hypot(...sum(R))) < 1e-5);
});

test('seeded: the same seed and set give the same rows, another set or seed other rows', () => {
  const R = madeRows(4, 2);
  const a = rotationSets(R, D, 3, 7);
  const b = rotationSets(R, D, 3, 7);
  assert.equal(a.sets.length, 3);
  assert.deepEqual(a.sets, b.sets);
  assert.notDeepEqual(a.sets[0], a.sets[1]);
  assert.notDeepEqual(a.sets[0], rotationSets(R, D, 1, 8).sets[0]);
  // set j is drawn from stream 2 + j
  assert.deepEqual(a.sets[1], rotatedRows(R, D, new Rng(7, 3)).rows);
});

test('rank-deficient rows: a repeated row and a sum of two rows add no dimension', () => {
  const R = madeRows(5, 3);
  R.set(row(R, 0), 2 * D); // row 2 = row 0
  R.set(
    row(R, 1).map((x, d) => x + R[3 * D + d]),
    4 * D,
  ); // row 4 = row 1 + row 3
  const { rows, rank } = rotatedRows(R, D, new Rng(1, 2));
  assert.equal(rank, 3);
  assert.ok(Math.abs(dot(row(rows, 2), row(rows, 0)) - dot(row(R, 0), row(R, 0))) < 1e-5);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(dot(row(rows, 4), row(R, i))) < 1e-5);
});

test('d_in < 2r is refused (no room in the complement)', () => {
  assert.throws(
    () => rotatedRows(madeRows(13, 4), D, new Rng(0)),
    (e: Error) => e instanceof InputError && /span 13 dimensions of d_in = 24.*d_in ≥ 2·13 = 26/.test(e.message),
  );
  // 12 rows fit exactly
  assert.equal(rotatedRows(madeRows(12, 4), D, new Rng(0)).rank, 12);
});
