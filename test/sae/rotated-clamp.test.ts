// A clamp along a replacement decoder row (the rotation control) against torch: for three SAE fixtures,
// h' = h + Σ_a (v_a − f_a(h))·r_a with rows r_a computed by test/fixtures/sae-rotation/make_rotation.py; and in
// one batch, rows clamping the same latents along W_dec and along the replacement rows each get their own.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../lib/errors.ts';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { type InterventionSpec, loadSae, makeIntervention, makeRowIntervention } from '../../lib/sae/index.ts';
import { maxAbsDiff } from '../support/model-cases.ts';

const HERE = join(import.meta.dirname, '..', 'fixtures', 'sae-rotation');
const cases = JSON.parse(readFileSync(join(HERE, 'cases.json'), 'utf8')) as {
  latents: number[];
  values: number[];
  saes: string[];
};
const ref = new SafetensorsFile(join(HERE, 'rotation.safetensors'));
const TOL = 1e-4;

function specs(rows: Float32Array | null, dIn: number): InterventionSpec[] {
  return cases.latents.map((latent, i) => ({
    latent,
    value: cases.values[i],
    mode: 'clamp' as const,
    ...(rows ? { decoderRow: { key: `r${i}`, values: rows.slice(i * dIn, (i + 1) * dIn) } } : {}),
  }));
}

for (const name of cases.saes) {
  test(`rotated clamp on ${name} matches torch, alone and beside a plain clamp of the same latents in one batch`, async () => {
    const sae = loadSae(join(import.meta.dirname, '..', 'fixtures', 'sae', name));
    const x = ref.read('x');
    const rows = ref.read(`${name}/rows`).data;
    const h = tf.tensor2d(x.data, x.shape as [number, number]);
    const alone = await makeIntervention(sae, specs(rows, sae.dIn))(h);
    const want = ref.read(`${name}/rotated`).data;
    assert.ok(maxAbsDiff(await alone.data(), want) <= TOL, `rotated: ${maxAbsDiff(await alone.data(), want)}`);
    // the rotation moves the output: it is not the plain clamp
    assert.ok(maxAbsDiff(want, ref.read(`${name}/plain`).data) > 1e-2);
    // tokens 0..3 clamp along W_dec, tokens 4..7 along the rotated rows
    const both = await makeRowIntervention(sae, [specs(null, sae.dIn), specs(rows, sae.dIn)])(h, {
      counts: [4, 4],
      lists: [0, 1],
    });
    const got = await both.data();
    const half = 4 * sae.dIn;
    assert.ok(maxAbsDiff(got.subarray(0, half), ref.read(`${name}/plain`).data.subarray(0, half)) <= TOL, 'plain half');
    assert.ok(maxAbsDiff(got.subarray(half), want.subarray(half)) <= TOL, 'rotated half');
    for (const t of [alone, both, h]) t.dispose();
    sae.dispose();
  });
}

test('a decoder row of the wrong width, or without values, is refused', async () => {
  const sae = loadSae(join(import.meta.dirname, '..', 'fixtures', 'sae', cases.saes[0]));
  const h = tf.zeros([2, sae.dIn]) as tf.Tensor2D;
  assert.throws(
    () => makeIntervention(sae, [{ latent: 1, value: 0, mode: 'clamp', decoderRow: { key: 'r', values: [1, 2] } }]),
    (e: Error) => e instanceof InputError && /decoder row r has 2 values, expected d_in = 64/.test(e.message),
  );
  assert.throws(
    () => makeIntervention(sae, [{ latent: 1, value: 0, mode: 'clamp', decoderRow: { key: 'f.safetensors:set_0:0' } }]),
    /decoder row f\.safetensors:set_0:0 carries no values/,
  );
  h.dispose();
  sae.dispose();
});
