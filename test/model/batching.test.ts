// Batch invariance and continuous batching (lib/model/generate.ts, lib/model/kvcache.ts): a prompt's tokens
// depend only on its own prompt, seed and interventions — not on the batch size, nor on which prompts share its
// steps — because every op treats rows independently; a finished row's cache slot takes the next prompt.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { generate } from '../../lib/model/generate.ts';
import { loadModel } from '../../lib/model/load.ts';
import type { Model } from '../../lib/model/transformer.ts';
import { loadSae } from '../../lib/sae/index.ts';
import { rowInterventionHooks } from '../../lib/steering/interventions.ts';
import type { Intervention } from '../../lib/steering/types.ts';
import { MODEL_FIXTURES } from '../support/model-cases.ts';

const backend = await openBackend('wasm', () => {});
const SAMPLING = { temperature: 0.9, topK: 20, topP: 0.95, repetitionPenalty: 1.1 };
/** Seven prompts of different lengths (token ids of the fixtures' 512-token vocabulary). */
const PROMPTS = Array.from({ length: 7 }, (_, i) =>
  Array.from({ length: 3 + ((i * 5) % 11) }, (_, t) => 7 + ((i * 31 + t * 17) % 400)),
);

test("tfjs-wasm's matmul gives each row the same bits whatever the number of rows (what batch invariance rests on)", () => {
  for (const [K, N] of [
    [64, 96],
    [768, 3072],
  ]) {
    const w = tf.randomNormal([K, N], 0, 1, 'float32', 1) as tf.Tensor2D;
    const x = tf.randomNormal([70, K], 0, 1, 'float32', 2) as tf.Tensor2D;
    const alone = Array.from({ length: 70 }, (_, r) => tf.matMul(x.slice([r, 0], [1, K]), w).dataSync());
    for (const M of [2, 3, 17, 64, 70]) {
      const y = tf.matMul(x.slice([0, 0], [M, K]), w).dataSync();
      for (let r = 0; r < M; r++)
        assert.deepEqual(y.subarray(r * N, (r + 1) * N), alone[r], `K ${K}, N ${N}: row ${r} of ${M}`);
    }
    tf.dispose([w, x]);
  }
});

for (const name of ['llama3-gqa', 'gemma2-f16']) {
  test(`${name}: a row's logits have the same bits whatever rows share its steps (prefill and decode rows mixed)`, async () => {
    const model = await loadModel(join(MODEL_FIXTURES, name), backend);
    const V = model.config.vocabSize;
    const [a, b, c] = [PROMPTS[6], PROMPTS[3], PROMPTS[5]];
    // Together: step 1 prefills a and b; step 2 decodes a, prefills c, decodes b; step 3 decodes all three.
    const plan = [
      [
        [0, a],
        [1, b],
      ],
      [
        [0, [5]],
        [2, c],
        [1, [9]],
      ],
      [
        [1, [11]],
        [0, [6]],
        [2, [3]],
      ],
    ] as [number, number[]][][];
    const together = new Map<number, number[]>([0, 1, 2].map((s) => [s, []]));
    const shared = model.newCache(3, 32);
    for (const rows of plan) {
      const out = await model.forward(
        rows.map(([, ids]) => ids),
        shared,
        { slots: rows.map(([s]) => s), logits: 'last' },
      );
      const l = (await out.logits!.data()) as Float32Array;
      rows.forEach(([s], j) => together.get(s)!.push(...l.subarray(j * V, (j + 1) * V)));
      out.logits!.dispose();
    }
    shared.dispose();
    for (const s of [0, 1, 2]) {
      const alone: number[] = [];
      const cache = model.newCache(1, 32);
      for (const rows of plan)
        for (const [slot, ids] of rows) {
          if (slot !== s) continue;
          const out = await model.forward([ids], cache, { logits: 'last' });
          alone.push(...(await out.logits!.data()));
          out.logits!.dispose();
        }
      cache.dispose();
      assert.deepEqual(together.get(s), alone, `slot ${s}`);
    }
    model.dispose();
  });

  test(`${name}: seeded sampling with per-row interventions gives every prompt the same tokens at batch 1, 3 and 16`, async () => {
    const model = await loadModel(join(MODEL_FIXTURES, name), backend);
    const sae = name === 'llama3-gqa' ? loadSae(join(MODEL_FIXTURES, '..', 'sae', 'saelens_relu')) : null;
    const perRow: Intervention[][] = PROMPTS.map((_, i) =>
      i % 3 === 0
        ? []
        : [
            {
              hook: i % 4 === 1 ? 'blocks.1.hook_resid_post' : 'blocks.1.hook_mlp_out',
              layer: 1,
              latent: 10 + i,
              value: i % 2 ? 4 : 0,
              mode: i % 2 ? 'add' : 'clamp',
            },
          ],
    );
    const hooks = sae ? rowInterventionHooks(sae, perRow, model.config) : undefined;
    const seeds = PROMPTS.map((_, i) => 100 + i);
    // Stop ids that end rows at different steps: tokens the unbatched run produces early in some rows.
    const free = await generate(model, PROMPTS, { ...SAMPLING, maxNewTokens: 24, seeds, hooks, stopIds: [], batch: 1 });
    const stopIds = [free.tokens[1][4], free.tokens[4][9]];
    const runs = [];
    for (const batch of [1, 3, 16])
      runs.push(await generate(model, PROMPTS, { ...SAMPLING, maxNewTokens: 24, seeds, hooks, stopIds, batch }));
    assert.ok(
      runs[0].stopped.some((s) => s) && runs[0].tokens.some((t) => t.length === 24),
      'rows end at different steps',
    );
    for (const r of runs.slice(1)) {
      assert.deepEqual(r.tokens, runs[0].tokens);
      assert.deepEqual(r.stopped, runs[0].stopped);
    }
    // the test can fail: another seed changes a row
    const other = await generate(model, PROMPTS, {
      ...SAMPLING,
      maxNewTokens: 24,
      seeds: seeds.map((s) => s + 1),
      hooks,
      stopIds,
      batch: 3,
    });
    assert.notDeepEqual(other.tokens, runs[0].tokens);
    model.dispose();
  });
}

/** The model with every forward step's rows recorded. */
function recording(model: Model): { model: Model; steps: { slots: number[]; tokens: number[] }[] } {
  const steps: { slots: number[]; tokens: number[] }[] = [];
  const wrapped: Model = {
    config: model.config,
    dtype: model.dtype,
    weightBytes: model.weightBytes,
    newCache: (slots, capacity) => model.newCache(slots, capacity),
    forward: (rows, cache, opts) => {
      steps.push({ slots: Array.from(opts?.slots ?? rows.map((_, r) => r)), tokens: rows.map((r) => r.length) });
      return model.forward(rows, cache, opts);
    },
    usage: () => model.usage(),
    resetUsage: () => model.resetUsage(),
    dispose: () => model.dispose(),
  };
  return { model: wrapped, steps };
}

test('continuous batching: a finished row frees its slot for the next prompt at once, and rows are reported as they finish', async () => {
  const base = await loadModel(join(MODEL_FIXTURES, 'llama3-gqa'), backend);
  const { model, steps } = recording(base);
  const seeds = PROMPTS.map((_, i) => i);
  const free = await generate(base, PROMPTS, { ...SAMPLING, maxNewTokens: 12, seeds, stopIds: [], batch: 1 });
  const stopIds = [free.tokens[0][2], free.tokens[2][5]];
  const g0 = await generate(base, PROMPTS, { ...SAMPLING, maxNewTokens: 12, seeds, stopIds, batch: 1 });
  const order: number[] = [];
  const g = await generate(model, PROMPTS, {
    ...SAMPLING,
    maxNewTokens: 12,
    seeds,
    stopIds,
    batch: 3,
    onRow: (i, row) => {
      order.push(i);
      assert.deepEqual(row.tokens, g0.tokens[i]);
    },
  });
  assert.deepEqual(g.tokens, g0.tokens);
  // Every step runs as many rows as there are slots, until fewer prompts are left than slots.
  let finished = 0;
  const lengths = g.tokens.map((t) => t.length);
  const generated = new Array(PROMPTS.length).fill(0);
  let admitted = 0;
  const slotOf = new Map<number, number>(); // slot → prompt
  const finishOrder: number[] = [];
  for (const s of steps) {
    assert.equal(s.slots.length, Math.min(3, PROMPTS.length - finished), `step rows (${finished} finished)`);
    for (const [j, slot] of s.slots.entries()) {
      if (!slotOf.has(slot)) {
        slotOf.set(slot, admitted);
        assert.equal(s.tokens[j], PROMPTS[admitted].length, 'a new prompt is prefilled whole');
        admitted++;
      } else assert.equal(s.tokens[j], 1, 'a running prompt feeds one token');
      const p = slotOf.get(slot)!;
      if (++generated[p] === lengths[p]) {
        slotOf.delete(slot);
        finishOrder.push(p);
        finished++;
      }
    }
  }
  assert.equal(finished, PROMPTS.length);
  assert.deepEqual(order, finishOrder);
  assert.notDeepEqual(order, [...order].sort(), 'rows finish out of order');
  assert.ok(steps.length < lengths.reduce((a, b) => a + b, 0) / 2, 'rows share steps');
  base.dispose();
});
