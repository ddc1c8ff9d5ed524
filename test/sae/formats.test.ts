// Every SAE format and activation against torch on the WASM backend (cases in test/support/sae-cases.ts;
// test/webgpu.test.ts runs them on WebGPU), and blocked encoding.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { decode, denseCodes, encodeSparse, loadSae } from '../../lib/sae/index.ts';
import { maxAbsDiff } from '../support/model-cases.ts';
import {
  registerSaeCases,
  SAE_DIR as DIR,
  saeCases as cases,
  saeExpected as expected,
  TOL_CODES,
} from '../support/sae-cases.ts';

await openBackend('wasm', () => {});
registerSaeCases();

test('sae: blocked and partly resident encoding gives the same codes as one block', async () => {
  const x = expected.read('x');
  const h = tf.tensor2d(x.data, x.shape as [number, number]);
  for (const name of ['saelens_topk_bf16', 'gemmascope']) {
    const sae = loadSae(join(DIR, name), {
      blockBytes: 40 * 4 * cases.d_in,
      residentBytes: 2 * 40 * 4 * cases.d_in,
      hash: false,
    });
    assert.equal(sae.nBlocks, 7);
    for (let rep = 0; rep < 2; rep++) {
      const err = maxAbsDiff(denseCodes(await encodeSparse(sae, h)), expected.read(`${name}/codes`).data);
      assert.ok(err <= TOL_CODES, `${name}: ${err}`);
    }
    assert.ok(
      maxAbsDiff(await decode(sae, await encodeSparse(sae, h)).data(), expected.read(`${name}/decode`).data) <=
        TOL_CODES,
    );
    sae.dispose();
  }
  h.dispose();
});
