// lib/model/memory.ts against numbers computed by hand and published parameter counts; its agreement with the
// WebGPU runtime's own allocations is checked on Mesa in test/webgpu.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModelConfig } from '../../lib/model/config.ts';
import {
  defaultGpuBatch,
  deviceWeightBytes,
  gpuBatch,
  gpuBudget,
  kvBytesPerToken,
  runBytes,
} from '../../lib/model/memory.ts';

const PAPER = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'bench', 'forward', 'paper_models.json'), 'utf8'),
);
const config = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'esr-memory-test-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(PAPER[name]));
  return loadModelConfig(dir);
};

test('Llama-3.1-8B: weights from its published 8,030,261,248 parameters, KV cache 32 layers × 8 heads × 128 × K,V in f32', () => {
  const c = config('Llama-3.1-8B');
  const embedding = 128256 * 4096; // stays in host memory
  const norms = 4096 * (2 * 32 + 1); // held in f32 whatever the dtype
  const linears = 8_030_261_248 - embedding - norms;
  assert.equal(deviceWeightBytes(c, 'bf16'), 2 * linears + 4 * norms);
  assert.equal(deviceWeightBytes(c, 'f32'), 4 * linears + 4 * norms);
  assert.equal(kvBytesPerToken(c), 32 * 8 * 128 * 2 * 4);
  const r = runBytes(c, 'bf16', { batch: 32, promptTokens: 128, newTokens: 512 });
  assert.equal(r.kvCache, 32 * 640 * 262_144);
  // prefill of 32 × 128 = 4,096 tokens: the logits of every packed token (f32) dominate the activations
  assert.ok(r.activations > 4096 * 128256 * 4 && r.activations < 2 * 4096 * 128256 * 4, `${r.activations}`);
});

test('Gemma-2-9B: four norms a layer; FP8 adds an f32 scale per output row and keeps the lm_head in bf16', () => {
  const c = config('Gemma-2-9B');
  const d = 3584;
  const ff = 14336;
  const L = 42;
  const attnRows = (16 + 2 * 8) * 256 + d;
  const linearWeights = L * ((16 + 2 * 8) * 256 * d + 16 * 256 * d + 3 * d * ff);
  const head = 256000 * d;
  const norms = d * (4 * L + 1);
  assert.equal(deviceWeightBytes(c, 'fp8'), linearWeights + 2 * head + 4 * norms + 4 * L * (attnRows + 2 * ff + d));
});

test('gpuBatch: the largest batch in [1, 64] whose run fits the budget, and why', () => {
  const c = config('Llama-3.1-8B');
  const shape = { promptTokens: 128, newTokens: 512 };
  const at = (batch: number) => runBytes(c, 'bf16', { ...shape, batch }).total;
  assert.equal(gpuBatch(c, 'bf16', at(40), shape).batch, 40);
  assert.equal(gpuBatch(c, 'bf16', at(40) - 1, shape).batch, 39);
  const big = gpuBatch(c, 'bf16', 1e12, shape);
  assert.equal(big.batch, 64);
  assert.match(big.why, /64 is the most/);
  const none = gpuBatch(c, 'bf16', 10e9, shape);
  assert.equal(none.batch, 1);
  assert.match(none.why, /even batch 1 needs 1\d\.\d GB > 10\.0 GB/);
});

test('defaultGpuBatch: 32 with no free-memory figure; else sized from the budget, naming its source', () => {
  const c = config('Llama-3.1-8B');
  const shape = { promptTokens: 128, newTokens: 512 };
  const none = defaultGpuBatch(c, 'bf16', null, shape);
  assert.equal(none.batch, 32);
  assert.match(none.why, /--gpu-memory/);
  const given = gpuBudget(80, 123);
  assert.deepEqual(given, { bytes: 80e9, source: '--gpu-memory' }); // a given budget already counts the weights
  const sized = defaultGpuBatch(c, 'bf16', given, shape);
  assert.equal(sized.batch, gpuBatch(c, 'bf16', 80e9, shape).batch);
  assert.ok(sized.batch > 32 && runBytes(c, 'bf16', { ...shape, batch: sized.batch }).total <= 80e9);
  assert.match(sized.why, /^--gpu-memory: 80\.0 GB budget: weights 15\.0 GB/);
});
