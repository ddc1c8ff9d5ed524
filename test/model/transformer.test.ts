// lib/model against Hugging Face transformers on the WASM backend (cases in test/support/model-cases.ts;
// test/webgpu.test.ts runs the same cases on WebGPU).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { loadModel } from '../../lib/model/load.ts';
import { MODEL_FIXTURES, registerModelCases } from '../support/model-cases.ts';

const backend = await openBackend('wasm', () => {});
registerModelCases({ sampling: true, backend });

test('no tensors leak across forward passes', async () => {
  const model = await loadModel(join(MODEL_FIXTURES, 'llama3-gqa'), backend);
  const before = tf.memory().numTensors;
  const cache = model.newCache(1, 256);
  const out = await model.forward([[5, 6, 7]], cache, { read: ['resid_post.1'] });
  out.logits!.dispose();
  out.acts.forEach((t) => t.dispose());
  cache.dispose();
  assert.equal(tf.memory().numTensors, before);
});
