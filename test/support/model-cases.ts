// lib/model against Hugging Face transformers, as test cases any backend's test file registers: logits and
// every resid_post, padded batches, KV-cached decode, greedy generation. References come from
// test/fixtures/models/make_models.py.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Backend } from '../../lib/backend.ts';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { generate } from '../../lib/model/generate.ts';
import { loadModel } from '../../lib/model/load.ts';
import { GREEDY } from '../../lib/model/sampling.ts';

export const MODEL_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'models');
export const MODEL_CASES = ['llama3-gqa', 'llama-tied-bf16', 'gemma2-f16'];
const TOL = 1e-4;

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Rows [from, to) of a row-major [rows, width] matrix. */
const rowsOf = (x: Float32Array, width: number, from: number, to: number) => x.subarray(from * width, to * width);

/** The short hook name of resid_post.L, which forward() reads and returns under the same name. */
const residName = (layer: number) => `resid_post.${layer}`;

export interface CaseOptions {
  /** Why the cases cannot run here (they are registered as skipped with this reason). */
  skip?: string;
  /** Also the seeded-sampling case (sampling runs in JS: one backend is enough). */
  sampling?: boolean;
  /** Prefix of every test name. */
  prefix?: string;
  /** The backend the model cases load onto (absent when they are skipped). */
  backend?: Backend;
}

/** The backend of registered cases that run. */
export function caseBackend(o: CaseOptions): Backend {
  if (!o.backend) throw new Error('model cases need a backend');
  return o.backend;
}

export function registerModelCases(o: CaseOptions = {}): void {
  const prefix = o.prefix ?? '';
  for (const name of MODEL_CASES) {
    const dir = join(MODEL_FIXTURES, name);
    const expected = new SafetensorsFile(join(dir, 'expected.safetensors'));
    const seqs = [0, 1, 2].map((s) => Array.from(expected.read(`ids.${s}`).data, Number));
    let model: ReturnType<typeof loadModel> | null = null; // loaded by the first test that runs
    const t = (title: string, fn: (m: Awaited<ReturnType<typeof loadModel>>) => Promise<void>) =>
      test(`${prefix}${name}: ${title}`, { skip: o.skip }, async () =>
        fn(await (model ??= loadModel(dir, caseBackend(o)))),
      );

    t('full prefill matches transformers (logits and every resid_post)', async (model) => {
      const allLayers = Array.from({ length: model.config.numLayers }, (_, i) => i);
      for (const [s, ids] of seqs.entries()) {
        const cache = model.newCache(1, ids.length);
        const out = await model.forward([ids], cache, { read: allLayers.map(residName) });
        assert.ok(maxAbsDiff(await out.logits!.data(), expected.read(`logits.${s}`).data) < TOL, `logits seq ${s}`);
        for (const layer of allLayers) {
          const diff = maxAbsDiff(
            await out.acts.get(residName(layer))!.data(),
            expected.read(`resid_post.${layer}.${s}`).data,
          );
          assert.ok(diff < TOL, `resid_post.${layer} seq ${s}: ${diff}`);
        }
        out.logits!.dispose();
        out.acts.forEach((r) => r.dispose());
        cache.dispose();
      }
    });

    t(
      'a batch of rows of different lengths, packed, each in its own cache slot, gives each row its own result',
      async (model) => {
        const { numLayers: L, hiddenSize: d, vocabSize: V } = model.config;
        const cache = model.newCache(seqs.length, Math.max(...seqs.map((s) => s.length)));
        const out = await model.forward(seqs, cache, { read: [residName(L - 1)] });
        const logits = (await out.logits!.data()) as Float32Array;
        const resid = (await out.acts.get(residName(L - 1))!.data()) as Float32Array;
        let first = 0;
        seqs.forEach((seq, b) => {
          assert.ok(
            maxAbsDiff(rowsOf(logits, V, first, first + seq.length), expected.read(`logits.${b}`).data) < TOL,
            `row ${b} logits`,
          );
          assert.ok(
            maxAbsDiff(rowsOf(resid, d, first, first + seq.length), expected.read(`resid_post.${L - 1}.${b}`).data) <
              TOL,
            `row ${b} resid`,
          );
          first += seq.length;
        });
        out.logits!.dispose();
        out.acts.forEach((r) => r.dispose());
        cache.dispose();
      },
    );

    t('prefill then token-by-token decode through the KV cache (logits and every resid_post)', async (model) => {
      const ids = seqs[0];
      const L = model.config.numLayers;
      const allLayers = Array.from({ length: L }, (_, i) => i);
      const split = 9; // longer than Gemma's sliding window (6), so decode crosses it
      const cache = model.newCache(1, ids.length);
      const logits: number[] = [];
      const resid: number[][] = allLayers.map(() => []);
      const step = async (chunk: number[]) => {
        const out = await model.forward([chunk], cache, { read: allLayers.map(residName) });
        logits.push(...(await out.logits!.data()));
        for (const l of allLayers) resid[l].push(...(await out.acts.get(residName(l))!.data()));
        out.logits!.dispose();
        out.acts.forEach((r) => r.dispose());
      };
      await step(ids.slice(0, split));
      for (let i = split; i < ids.length; i++) await step([ids[i]]);
      cache.dispose();
      assert.ok(maxAbsDiff(logits, expected.read('logits.0').data) < TOL, 'logits');
      for (const l of allLayers)
        assert.ok(maxAbsDiff(resid[l], expected.read(`resid_post.${l}.0`).data) < TOL, `resid_post.${l}`);
    });

    t('greedy generation reproduces transformers for 32 steps (with and without repetition penalty)', async (model) => {
      for (const [key, penalty] of [
        ['greedy', 1],
        ['greedy_rep1.3', 1.3],
      ] as const) {
        const want = Array.from(expected.read(key).data, Number);
        const got = await generate(model, [seqs[1]], { ...GREEDY, repetitionPenalty: penalty, maxNewTokens: 32 });
        assert.deepEqual(got.tokens[0], want, key);
      }
    });

    t(
      'device memory is flat: peak bytes over 240 new tokens exceed those over 32 by the KV cache growth (and rotary table) only',
      async (model) => {
        const { numLayers: L, numKvHeads: KV, headDim: hd } = model.config;
        const prompts = [seqs[2], seqs[2].slice(0, 5)];
        const peak = async (n: number) => {
          const g = await generate(model, prompts, { ...GREEDY, maxNewTokens: n, stopIds: [], batch: 2 });
          assert.equal(g.timings.generatedTokens, 2 * n);
          assert.equal(g.memory.weightsBytes, model.weightBytes);
          return g.memory.peakBytes;
        };
        const short = await peak(32);
        const long = await peak(240);
        const growth = 2 * 4 * L * KV * hd * 2 * (240 - 32); // keys and values, f32, two slots
        // WebGPU also keeps a rotary table (cos, sin in f32 per position, grown in powers of two): 256 positions here
        const rotary = 256 * hd * 4;
        assert.ok(short > model.weightBytes, `peak ${short} holds the weights ${model.weightBytes}`);
        assert.ok(long - short <= growth + rotary, `peak grew by ${long - short} bytes, the cache by ${growth}`);
        assert.ok(long - short >= growth, `the peak (${long} vs ${short}) counts the cache (${growth})`);
      },
    );

    if (o.sampling) {
      t('seeded sampling is identical across runs and independent of batching', async (model) => {
        const opts = { temperature: 0.8, topK: 50, topP: 0.9, repetitionPenalty: 1.1, maxNewTokens: 16, stopIds: [] };
        const a = await generate(model, [seqs[1], seqs[2]], { ...opts, seeds: [7, 8] });
        const b = await generate(model, [seqs[1], seqs[2]], { ...opts, seeds: [7, 8] });
        const alone = await generate(model, [seqs[2]], { ...opts, seeds: [8] });
        assert.deepEqual(a.tokens, b.tokens);
        assert.deepEqual(a.tokens[1], alone.tokens[0]);
        assert.notDeepEqual(a.tokens[0], (await generate(model, [seqs[1]], { ...opts, seeds: [9] })).tokens[0]);
      });
    }
  }
}
