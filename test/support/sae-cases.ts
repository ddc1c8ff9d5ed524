// Every SAE format and activation against torch — codes, decode and interventions (fixtures by
// test/fixtures/sae/make_sae.py) — as cases each backend's test file registers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import {
  decode,
  denseCodes,
  encodeSparse,
  loadSae,
  makeIntervention,
  type InterventionSpec,
} from '../../lib/sae/index.ts';
import { type CaseOptions, maxAbsDiff } from './model-cases.ts';

export const SAE_DIR = join(import.meta.dirname, '..', 'fixtures', 'sae');
export const saeCases = JSON.parse(readFileSync(join(SAE_DIR, 'cases.json'), 'utf8')) as {
  d_in: number;
  d_sae: number;
  interventions: Record<string, InterventionSpec[]>;
  saes: Record<
    string,
    { activation: string; apply_b_dec_to_input: boolean; k: number | null; weight_dtype: string; nnz: number }
  >;
};
export const saeExpected = new SafetensorsFile(join(SAE_DIR, 'expected.safetensors'));
export const TOL_CODES = 1e-5;
const TOL_STEER = 1e-4;

export function registerSaeCases(o: CaseOptions = {}): void {
  const x = saeExpected.read('x');
  for (const [name, c] of Object.entries(saeCases.saes)) {
    test(`${o.prefix ?? ''}sae ${name}: ${c.activation} codes, decode and interventions match torch`, {
      skip: o.skip,
    }, async () => {
      const sae = loadSae(join(SAE_DIR, name));
      assert.equal(sae.activation.kind, c.activation);
      assert.equal(sae.applyBDecToInput, c.apply_b_dec_to_input);
      assert.equal(sae.dIn, saeCases.d_in);
      assert.equal(sae.dSae, saeCases.d_sae);
      assert.equal(sae.info.weightDtype, c.weight_dtype === 'bfloat16' ? 'BF16' : 'F32');
      assert.match(sae.info.files[0].sha256 ?? '', /^[0-9a-f]{64}$/);
      const h = tf.tensor2d(x.data, x.shape as [number, number]);
      const codes = await encodeSparse(sae, h);
      assert.equal(codes.latents.length, c.nnz, 'number of active codes');
      assert.ok(maxAbsDiff(denseCodes(codes), saeExpected.read(`${name}/codes`).data) <= TOL_CODES);
      const recon = decode(sae, codes);
      assert.ok(maxAbsDiff(await recon.data(), saeExpected.read(`${name}/decode`).data) <= TOL_CODES);
      for (const [caseName, specs] of Object.entries(saeCases.interventions)) {
        const out = await makeIntervention(sae, specs)(h);
        const err = maxAbsDiff(await out.data(), saeExpected.read(`${name}/steer_${caseName}`).data);
        assert.ok(err <= TOL_STEER, `${caseName}: max error ${err}`);
        out.dispose();
      }
      recon.dispose();
      h.dispose();
      sae.dispose();
    });
  }
}
