// lib/model/weightdtype.ts and the checkpoint's FP8 reading on the WASM backend (cases in
// test/support/dtype-cases.ts; test/webgpu.test.ts runs them on WebGPU, where the weights stay FP8/bf16).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { Checkpoint } from '../../lib/model/checkpoint.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { matrixF32, quantizeFp8 } from '../../lib/model/weightdtype.ts';
import { registerDtypeCases } from '../support/dtype-cases.ts';
import { MODEL_FIXTURES } from '../support/model-cases.ts';

const backend = await openBackend('wasm', () => {});
registerDtypeCases({ backend });

test("quantizeFp8 gives torch's float8_e4m3fn bytes and scales for every linear (round to nearest even)", async () => {
  const dir = join(MODEL_FIXTURES, 'llama3-gqa');
  const cfg = loadModelConfig(dir);
  const source = new Checkpoint(dir, cfg, null);
  const torch = new SafetensorsFile(join(MODEL_FIXTURES, 'llama3-fp8-channel', 'model.safetensors'));
  let checked = 0;
  for (const name of torch.names().filter((n) => n.endsWith('_proj.weight'))) {
    const [rows, cols] = torch.info(name).shape;
    const stored = await source.matrix(name, rows, cols);
    const q = quantizeFp8(matrixF32(stored), rows, cols);
    if (q.kind !== 'fp8') throw new Error('not fp8');
    assert.deepEqual(q.bytes, new Uint8Array(torch.readBytes(name)), `${name} bytes`);
    assert.deepEqual(q.scale, torch.read(name.replace(/weight$/, 'weight_scale')).data, `${name} scales`);
    checked++;
  }
  assert.equal(checked, 21);
});
