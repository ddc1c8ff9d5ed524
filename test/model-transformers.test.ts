// lib/model against Hugging Face transformers: logits, every resid_post, padded batches, KV-cached decode,
// greedy generation. Reference tensors come from test/fixtures/models/make_models.py.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend.ts';
import { SafetensorsFile } from '../lib/io/safetensors.ts';
import { generate, leftPad } from '../lib/model/generate.ts';
import { loadModel } from '../lib/model/load.ts';
import { GREEDY } from '../lib/model/sampling.ts';

await initBackend('wasm', () => {});
const FIXTURES = join(import.meta.dirname, 'fixtures', 'models');
const CASES = ['llama3-gqa', 'llama-tied-bf16', 'gemma2-f16'];
const TOL = 1e-4;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Rows [from, to) of a row-major [rows, width] matrix. */
const rowsOf = (x: Float32Array, width: number, from: number, to: number) => x.subarray(from * width, to * width);

for (const name of CASES) {
  const dir = join(FIXTURES, name);
  const expected = new SafetensorsFile(join(dir, 'expected.safetensors'));
  const model = loadModel(dir);
  const { numLayers: L, hiddenSize: d, vocabSize: V } = model.config;
  const seqs = [0, 1, 2].map((s) => Array.from(expected.read(`ids.${s}`).data, Number));
  const allLayers = Array.from({ length: L }, (_, i) => i);

  test(`${name}: full prefill matches transformers (logits and every resid_post)`, () => {
    for (const [s, ids] of seqs.entries()) {
      const cache = model.newCache(1);
      const out = model.forward(ids, new Uint8Array(ids.length).fill(1), 1, cache, { readLayers: allLayers });
      assert.ok(maxAbsDiff(out.logits!.dataSync(), expected.read(`logits.${s}`).data) < TOL, `logits seq ${s}`);
      for (const layer of allLayers) {
        const diff = maxAbsDiff(out.resid.get(layer)!.dataSync(), expected.read(`resid_post.${layer}.${s}`).data);
        assert.ok(diff < TOL, `resid_post.${layer} seq ${s}: ${diff}`);
      }
      out.logits!.dispose();
      out.resid.forEach((t) => t.dispose());
      cache.dispose();
    }
  });

  test(`${name}: a left-padded batch gives each row its unpadded result`, () => {
    const { ids, valid, width } = leftPad(seqs);
    const cache = model.newCache(seqs.length);
    const out = model.forward(ids, valid, seqs.length, cache, { readLayers: [L - 1] });
    const logits = out.logits!.dataSync() as Float32Array;
    const resid = out.resid.get(L - 1)!.dataSync() as Float32Array;
    seqs.forEach((seq, b) => {
      const first = b * width + width - seq.length;
      assert.ok(maxAbsDiff(rowsOf(logits, V, first, first + seq.length), expected.read(`logits.${b}`).data) < TOL, `row ${b} logits`);
      assert.ok(maxAbsDiff(rowsOf(resid, d, first, first + seq.length), expected.read(`resid_post.${L - 1}.${b}`).data) < TOL, `row ${b} resid`);
    });
    out.logits!.dispose();
    out.resid.forEach((t) => t.dispose());
    cache.dispose();
  });

  test(`${name}: prefill then token-by-token decode through the KV cache`, () => {
    const ids = seqs[0];
    const split = 9; // longer than Gemma's sliding window (6), so decode crosses it
    const cache = model.newCache(1);
    const logits: number[] = [];
    const resid: number[] = [];
    const step = (chunk: number[]) => {
      const out = model.forward(chunk, new Uint8Array(chunk.length).fill(1), 1, cache, { readLayers: [0] });
      logits.push(...out.logits!.dataSync());
      resid.push(...out.resid.get(0)!.dataSync());
      out.logits!.dispose();
      out.resid.forEach((t) => t.dispose());
    };
    step(ids.slice(0, split));
    for (let t = split; t < ids.length; t++) step([ids[t]]);
    cache.dispose();
    assert.ok(maxAbsDiff(logits, expected.read('logits.0').data) < TOL, 'logits');
    assert.ok(maxAbsDiff(resid, expected.read('resid_post.0.0').data) < TOL, 'resid_post.0');
  });

  test(`${name}: greedy generation reproduces transformers for 32 steps (with and without repetition penalty)`, () => {
    for (const [key, penalty] of [['greedy', 1], ['greedy_rep1.3', 1.3]] as const) {
      const want = Array.from(expected.read(key).data, Number);
      const got = generate(model, [seqs[1]], { ...GREEDY, repetitionPenalty: penalty, maxNewTokens: 32 });
      assert.deepEqual(got.tokens[0], want, key);
    }
  });

  test(`${name}: seeded sampling is identical across runs and independent of batching`, () => {
    const opts = { temperature: 0.8, topK: 50, topP: 0.9, repetitionPenalty: 1.1, maxNewTokens: 16, stopIds: [] };
    const a = generate(model, [seqs[1], seqs[2]], { ...opts, seeds: [7, 8] });
    const b = generate(model, [seqs[1], seqs[2]], { ...opts, seeds: [7, 8] });
    const alone = generate(model, [seqs[2]], { ...opts, seeds: [8] });
    assert.deepEqual(a.tokens, b.tokens);
    assert.deepEqual(a.tokens[1], alone.tokens[0]);
    assert.notDeepEqual(a.tokens[0], generate(model, [seqs[1]], { ...opts, seeds: [9] }).tokens[0]);
  });
}

test('no tensors leak across forward passes', () => {
  const model = loadModel(join(FIXTURES, 'llama3-gqa'));
  const before = tf.memory().numTensors;
  const cache = model.newCache(1);
  const out = model.forward([5, 6, 7], new Uint8Array([1, 1, 1]), 1, cache, { readLayers: [1] });
  out.logits!.dispose();
  out.resid.forEach((t) => t.dispose());
  cache.dispose();
  assert.equal(tf.memory().numTensors, before);
});
