// The memory model (lib/model/memory.ts) against the WebGPU runtime's own device bytes, on whatever adapter
// this machine has (Mesa's software adapter in CI). In its own process: the device's byte count is the
// backend's, so buffers another test left on a shared backend would count toward the peak measured here.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Backend, openBackend } from '../../lib/backend.ts';
import { generate } from '../../lib/model/generate.ts';
import { type LoadOptions, loadModel } from '../../lib/model/load.ts';
import { deviceWeightBytes, runBytes } from '../../lib/model/memory.ts';
import { GREEDY } from '../../lib/model/sampling.ts';
import type { WebgpuAdapterChoice } from '../../lib/webgpu.ts';
import { MODEL_FIXTURES } from '../support/model-cases.ts';

const ADAPTER = (process.env.ESR_TEST_WEBGPU_ADAPTER ?? 'opengl') as WebgpuAdapterChoice;
let skip: string | undefined;
let backend: Backend | undefined;
try {
  backend = await openBackend({ choice: 'webgpu', adapter: ADAPTER }, () => {});
} catch (err) {
  skip = `no WebGPU adapter here (${(err as Error).message})`;
}

test("webgpu: the memory model (lib/model/memory.ts) gives the device's weight bytes and bounds a generation's peak by 1 KB a row", {
  skip,
}, async () => {
  const cases: [string, LoadOptions][] = [
    ['llama3-gqa', { dtype: 'f32' }],
    ['llama3-gqa', { dtype: 'bf16' }],
    ['gemma2-f16', {}],
  ];
  for (const [name, load] of cases) {
    const model = await loadModel(join(MODEL_FIXTURES, name), backend!, load);
    assert.equal(model.weightBytes, deviceWeightBytes(model.config, model.dtype), `${name} ${model.dtype} weights`);
    for (const [batch, promptTokens, newTokens] of [
      [1, 5, 8],
      [3, 7, 40],
      [4, 9, 100],
    ]) {
      const prompts = Array.from({ length: batch }, (_, i) =>
        Array.from({ length: promptTokens }, (_, j) => 1 + ((7 * i + 3 * j) % 50)),
      );
      const g = await generate(model, prompts, { ...GREEDY, maxNewTokens: newTokens, stopIds: [], batch });
      const modelled = runBytes(model.config, model.dtype, { batch, promptTokens, newTokens }).total;
      const slack = modelled - g.memory.peakBytes;
      assert.ok(
        slack >= 0 && slack <= 1024 * batch,
        `${name} ${model.dtype} batch ${batch}: modelled ${modelled}, peak ${g.memory.peakBytes}`,
      );
    }
    model.dispose();
  }
});
