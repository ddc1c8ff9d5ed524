// A steered row whose logits turn NaN or infinite (the residual stream overflowed) stops the run naming
// its trial, instead of becoming an empty "answer" scored 0: generate marks the row at the step it
// happened (other rows go on unchanged), and generateAndJudge refuses it.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { generateAndJudge, NonFiniteOutput } from '../../lib/experiments/steered.ts';
import { createJudge } from '../../lib/judge/index.ts';
import { generate } from '../../lib/model/generate.ts';
import { loadModel } from '../../lib/model/load.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import type { Executor } from '../../lib/parallel/pool.ts';
import type { OnRow } from '../../lib/parallel/tasks.ts';
import { nanRows } from '../support/poison.ts';

const MODEL = join(resolve(import.meta.dirname, '..', '..'), 'test', 'fixtures', 'models', 'llama3-gqa');

test('generate: a row whose residual is NaN is stopped and marked at that step; the other row is untouched', async () => {
  const backend = await openBackend('cpu', () => {});
  const model = await loadModel(MODEL, backend);
  const prompts = [
    [1, 5, 9, 13],
    [1, 7, 11, 17],
  ];
  const opts = { maxNewTokens: 6, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, stopIds: [] };
  const clean = await generate(model, prompts, opts);
  assert.deepEqual(clean.nonFinite, [-1, -1]);
  // NaN in the residual after layer 0 of every token of prompt 1
  const hooked = await generate(model, prompts, { ...opts, hooks: new Map([['resid_post.0', nanRows(1)]]) });
  assert.deepEqual(hooked.nonFinite, [-1, 0]);
  assert.deepEqual(hooked.tokens[0], clean.tokens[0]);
  assert.deepEqual(hooked.tokens[1], []);
});

test('generateAndJudge: a non-finite row stops the run naming its trial and interventions', async () => {
  const tokenizer = loadTokenizer(MODEL);
  const executor: Executor = {
    size: 1,
    // rows 0 and 2 end well, row 1's logits turn NaN at its third step
    run: (async (_task: unknown, onRow?: OnRow) => {
      onRow?.(0, { tokens: [5, 6], stopped: false, nonFinite: -1 });
      onRow?.(1, { tokens: [7, 8], stopped: false, nonFinite: 2 });
      onRow?.(2, { tokens: [5, 6], stopped: false, nonFinite: -1 });
      return {
        tokens: [
          [5, 6],
          [7, 8],
          [5, 6],
        ],
        stopped: [false, false, false],
        nonFinite: [-1, 2, -1],
        timings: { prefillMs: 0, decodeMs: 0, promptTokens: 0, generatedTokens: 0 },
      };
    }) as Executor['run'],
    close: async () => {},
  };
  const row = (id: string, value: number) => ({
    id,
    prompt: 'Explain bread.',
    seed: 4,
    interventions: [{ hook: 'blocks.1.hook_resid_post', layer: 1, latent: 17, value, mode: 'add' as const }],
    instruction: null,
    featureLabel: null,
  });
  const judged: number[] = [];
  await assert.rejects(
    generateAndJudge(
      {
        executor,
        tokenizer,
        stopIds: [],
        sampling: { maxNewTokens: 4, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 },
        judge: createJudge('heuristic'),
        batchSize: 2,
      },
      [row('17:0:0:baseline', 8), row('17:0:1:baseline', 9.5e5), row('17:0:2:baseline', 8)],
      (i) => void judged.push(i),
    ),
    (e: Error) =>
      e instanceof NonFiniteOutput &&
      /^trial 17:0:1:baseline: non-finite logits \(NaN or Inf\) at generated token 3 \(prompt "Explain bread\.", seed 4, interventions add 17@blocks\.1\.hook_resid_post=950000\): the residual stream overflowed/.test(
        e.message,
      ),
  );
  assert.deepEqual(judged, [0], 'the row before it is judged (and would be stored), none from it on');
});
