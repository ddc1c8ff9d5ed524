// Disjoint derangements: cyclic shifts of one seeded order; within parts when prompts are held out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitPrompts } from '../../lib/discovery/holdout.ts';
import { derangements, discoveryDerangements, otdSamples } from '../../lib/discovery/pairs.ts';
import { InputError } from '../../lib/errors.ts';

/** Checks by definition: no fixed point, each a permutation, and no prompt gets the same response twice. */
function assertDisjoint(perms: number[][], n: number, what: string): void {
  for (const p of perms) {
    assert.deepEqual(
      [...p].sort((x, y) => x - y),
      Array.from({ length: n }, (_, i) => i),
      `${what}: a permutation`,
    );
    assert.ok(
      p.every((v, i) => v !== i),
      `${what}: no fixed point`,
    );
  }
  for (let i = 0; i < n; i++) {
    const responses = perms.map((p) => p[i]);
    assert.equal(new Set(responses).size, perms.length, `${what}: prompt ${i} gets ${perms.length} distinct responses`);
  }
}

test('K disjoint derangements for every n > K: permutations without fixed points, no repeated (prompt, response) pair', () => {
  for (const [n, k] of [
    [2, 1],
    [6, 5],
    [7, 3],
    [48, 5],
    [50, 10],
  ]) {
    for (let seed = 0; seed < 5; seed++) assertDisjoint(derangements(n, k, seed), n, `n ${n} K ${k} seed ${seed}`);
  }
});

test('they are cyclic shifts of one order: π_k(i) = σ⁻¹((σ(i) + k) mod n), so π_k = π_1 applied k times', () => {
  const perms = derangements(48, 5, 3);
  for (let k = 1; k < 5; k++) for (let i = 0; i < 48; i++) assert.equal(perms[k][i], perms[0][perms[k - 1][i]]);
  // π_1 is a single n-cycle
  let i = 0;
  let steps = 0;
  do {
    i = perms[0][i];
    steps++;
  } while (i !== 0);
  assert.equal(steps, 48);
});

test('seeded: same seed, same derangements; another seed, others', () => {
  assert.deepEqual(derangements(20, 4, 7), derangements(20, 4, 7));
  assert.notDeepEqual(derangements(20, 4, 7), derangements(20, 4, 8));
});

test('K ≥ n is refused (K disjoint derangements need K + 1 prompts)', () => {
  assert.throws(() => derangements(5, 5, 0), InputError);
  assert.throws(() => derangements(1, 1, 0), InputError);
});

test('with a held-out split, each part is deranged within itself', () => {
  const n = 40;
  const perms = discoveryDerangements(n, 5, 2, { fraction: 0.25, seed: 2 });
  const split = splitPrompts(
    Array.from({ length: n }, (_, i) => `p${i}`),
    0.25,
    2,
  );
  const held = new Set(split.heldOut.map((p) => Number(p.slice(1))));
  assertDisjoint(perms, n, 'split');
  for (const p of perms)
    for (let i = 0; i < n; i++) assert.equal(held.has(p[i]), held.has(i), `prompt ${i} stays in its part`);
  // too few prompts in the held-out part for K = 9 (10 held out) is an input error before any work
  assert.throws(() => discoveryDerangements(n, 10, 2, { fraction: 0.25, seed: 2 }), /need at least 11 prompts; part 1/);
});

test('otdSamples: on:<i> and off:<k>:<i> with prompt and response ids', () => {
  const s = otdSamples(['a?', 'b?', 'c?'], ['A', 'B', 'C'], derangements(3, 2, 0));
  assert.equal(s.length, 9);
  const off = s.filter((x) => x.condition === 'off_topic');
  assert.ok(off.every((x) => x.prompt_id !== x.response_id));
  assert.deepEqual(new Set(off.map((x) => `${x.prompt_id}/${x.response_id}`)).size, 6);
});
