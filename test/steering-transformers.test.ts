// Steering (add) and clamping through the model against transformers forward hooks applying the same
// formula (test/fixtures/steering/make_steering.py), for prefill and KV-cached decode, with the read-out
// at a later feature layer seeing the intervened stream.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../lib/backend.ts';
import { SafetensorsFile } from '../lib/io/safetensors.ts';
import { leftPad } from '../lib/model/generate.ts';
import { loadModel } from '../lib/model/load.ts';
import { denseCodes, encodeSparse, loadSae } from '../lib/sae/index.ts';
import { interventionHooks, parseInterventionFlags, rowInterventionHooks } from '../lib/steering/interventions.ts';
import type { Intervention } from '../lib/steering/types.ts';

await initBackend('wasm', () => {});
const FIX = join(import.meta.dirname, 'fixtures');
const expected = new SafetensorsFile(join(FIX, 'steering', 'expected.safetensors'));
const cases: Record<string, { model: string; sae: string; feature_layer: number; interventions: Intervention[] }> =
  JSON.parse(readFileSync(join(FIX, 'steering', 'cases.json'), 'utf8'));

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

for (const [name, c] of Object.entries(cases)) {
  const model = loadModel(join(FIX, 'models', c.model));
  const sae = loadSae(join(FIX, 'sae', c.sae));
  const hooks = interventionHooks(sae, c.interventions, model.config.numLayers);
  const ids = Array.from(expected.read(`${name}.ids`).data, Number);
  const wantLogits = expected.read(`${name}.logits`).data;

  test(`${name}: steered + clamped prefill matches transformers hooks (logits and feature-layer codes)`, () => {
    const cache = model.newCache(1);
    const out = model.forward(ids, new Uint8Array(ids.length).fill(1), 1, cache, { hooks, readLayers: [c.feature_layer] });
    assert.ok(maxDiff(out.logits!.dataSync(), wantLogits) < 1e-4, 'logits');
    const codes = encodeSparse(sae, out.resid.get(c.feature_layer)!);
    assert.ok(maxDiff(denseCodes(codes), expected.read(`${name}.codes`).data) < 1e-4, 'codes');
    out.logits!.dispose();
    out.resid.forEach((t) => t.dispose());
    cache.dispose();
  });

  test(`${name}: the same through prefill then token-by-token decode`, () => {
    const cache = model.newCache(1);
    const logits: number[] = [];
    const step = (chunk: number[]) => {
      const out = model.forward(chunk, new Uint8Array(chunk.length).fill(1), 1, cache, { hooks });
      logits.push(...out.logits!.dataSync());
      out.logits!.dispose();
    };
    step(ids.slice(0, 7));
    for (let t = 7; t < ids.length; t++) step([ids[t]]);
    cache.dispose();
    assert.ok(maxDiff(logits, wantLogits) < 1e-4);
  });

  test(`${name}: without the interventions the logits differ (the test can fail)`, () => {
    const cache = model.newCache(1);
    const out = model.forward(ids, new Uint8Array(ids.length).fill(1), 1, cache);
    assert.ok(maxDiff(out.logits!.dataSync(), wantLogits) > 1e-2);
    out.logits!.dispose();
    cache.dispose();
  });
}

test('--steer/--clamp flags parse to interventions and reject malformed values', () => {
  assert.deepEqual(parseInterventionFlags(['2:17:8.5'], '0:3:0'), [
    { layer: 2, latent: 17, value: 8.5, mode: 'add' },
    { layer: 0, latent: 3, value: 0, mode: 'clamp' },
  ]);
  assert.throws(() => parseInterventionFlags(['2:17'], undefined), /--steer: expected LAYER:LATENT:VALUE/);
  assert.throws(() => parseInterventionFlags(undefined, ['a:1:0']), /--clamp: expected LAYER:LATENT:VALUE/);
  const model = loadModel(join(FIX, 'models', 'llama3-gqa'));
  const sae = loadSae(join(FIX, 'sae', 'saelens_relu'));
  assert.throws(() => interventionHooks(sae, [{ layer: 9, latent: 1, value: 1, mode: 'add' }], model.config.numLayers), /layer 9: the model has layers 0\.\.2/);
});

test('per-row interventions in one padded batch equal each row run alone', () => {
  const c = cases['llama-relu'];
  const model = loadModel(join(FIX, 'models', c.model));
  const sae = loadSae(join(FIX, 'sae', c.sae));
  const ids = Array.from(expected.read('llama-relu.ids').data, Number);
  const rows = [ids, ids.slice(3, 12), ids.slice(1)];
  const perRow: Intervention[][] = [c.interventions, [], [{ layer: 1, latent: 7, value: -3, mode: 'add' }, { layer: 0, latent: 17, value: 2, mode: 'clamp' }]];
  const { ids: batchIds, valid, width } = leftPad(rows);
  const cache = model.newCache(rows.length);
  const batch = model.forward(batchIds, valid, rows.length, cache, { hooks: rowInterventionHooks(sae, perRow, model.config.numLayers) });
  const all = batch.logits!.dataSync() as Float32Array;
  const V = model.config.vocabSize;
  rows.forEach((row, r) => {
    const alone = model.newCache(1);
    const out = model.forward(row, new Uint8Array(row.length).fill(1), 1, alone, { hooks: interventionHooks(sae, perRow[r], model.config.numLayers) });
    const first = r * width + width - row.length;
    assert.ok(maxDiff(all.subarray(first * V, (first + row.length) * V), out.logits!.dataSync()) < 1e-4, `row ${r}`);
    out.logits!.dispose();
    alone.dispose();
  });
  batch.logits!.dispose();
  cache.dispose();
});
