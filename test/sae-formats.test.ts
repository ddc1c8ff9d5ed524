// Every SAE format and activation against torch: codes, decode and interventions (fixtures by make_sae.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend.ts';
import { SafetensorsFile } from '../lib/io/safetensors.ts';
import { decode, denseCodes, encodeSparse, loadSae, makeIntervention, type InterventionSpec } from '../lib/sae/index.ts';

const DIR = join(import.meta.dirname, 'fixtures', 'sae');
const cases = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as {
  d_in: number; d_sae: number;
  interventions: Record<string, InterventionSpec[]>;
  saes: Record<string, { activation: string; apply_b_dec_to_input: boolean; k: number | null; weight_dtype: string; nnz: number }>;
};
const expected = new SafetensorsFile(join(DIR, 'expected.safetensors'));
const x = expected.read('x');

before(async () => {
  await initBackend('wasm', () => {});
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const TOL_CODES = 1e-5;
const TOL_STEER = 1e-4;

for (const [name, c] of Object.entries(cases.saes)) {
  test(`sae ${name}: ${c.activation} codes, decode and interventions match torch`, () => {
    const sae = loadSae(join(DIR, name));
    assert.equal(sae.activation.kind, c.activation);
    assert.equal(sae.applyBDecToInput, c.apply_b_dec_to_input);
    assert.equal(sae.dIn, cases.d_in);
    assert.equal(sae.dSae, cases.d_sae);
    assert.equal(sae.info.weightDtype, c.weight_dtype === 'bfloat16' ? 'BF16' : 'F32');
    assert.match(sae.info.files[0].sha256 ?? '', /^[0-9a-f]{64}$/);
    const h = tf.tensor2d(x.data, x.shape as [number, number]);
    const codes = encodeSparse(sae, h);
    assert.equal(codes.latents.length, c.nnz, 'number of active codes');
    assert.ok(maxAbsDiff(denseCodes(codes), expected.read(`${name}/codes`).data) <= TOL_CODES);
    const recon = decode(sae, codes);
    assert.ok(maxAbsDiff(recon.dataSync(), expected.read(`${name}/decode`).data) <= TOL_CODES);
    for (const [caseName, specs] of Object.entries(cases.interventions)) {
      const out = makeIntervention(sae, specs)(h);
      const err = maxAbsDiff(out.dataSync(), expected.read(`${name}/steer_${caseName}`).data);
      assert.ok(err <= TOL_STEER, `${caseName}: max error ${err}`);
      out.dispose();
    }
    recon.dispose();
    h.dispose();
    sae.dispose();
  });
}

test('sae: blocked and partly resident encoding gives the same codes as one block', () => {
  const h = tf.tensor2d(x.data, x.shape as [number, number]);
  for (const name of ['saelens_topk_bf16', 'gemmascope']) {
    const sae = loadSae(join(DIR, name), { blockBytes: 40 * 4 * cases.d_in, residentBytes: 2 * 40 * 4 * cases.d_in, hash: false });
    assert.equal(sae.nBlocks, 7);
    for (let rep = 0; rep < 2; rep++) {
      const err = maxAbsDiff(denseCodes(encodeSparse(sae, h)), expected.read(`${name}/codes`).data);
      assert.ok(err <= TOL_CODES, `${name}: ${err}`);
    }
    assert.ok(maxAbsDiff(decode(sae, encodeSparse(sae, h)).dataSync(), expected.read(`${name}/decode`).data) <= TOL_CODES);
    sae.dispose();
  }
  h.dispose();
});
