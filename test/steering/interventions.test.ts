// Steering and clamping against transformers hooks on the WASM backend (cases in test/support/steering-cases.ts;
// test/webgpu.test.ts runs them on WebGPU), plus flag parsing and per-row interventions in a padded batch.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { loadModel } from '../../lib/model/load.ts';
import { loadSae } from '../../lib/sae/index.ts';
import { interventionHooks, parseInterventionFlags, rowInterventionHooks } from '../../lib/steering/interventions.ts';
import type { Intervention } from '../../lib/steering/types.ts';
import { maxAbsDiff } from '../support/model-cases.ts';
import {
  FIX,
  registerSteeringCases,
  steeringCases as cases,
  steeringExpected as expected,
} from '../support/steering-cases.ts';

const backend = await openBackend('wasm', () => {});
registerSteeringCases({ backend });

test('--steer/--clamp flags parse to interventions and reject malformed values', async () => {
  assert.deepEqual(parseInterventionFlags(['2:17:8.5'], '0:3:0'), [
    { layer: 2, latent: 17, value: 8.5, mode: 'add' },
    { layer: 0, latent: 3, value: 0, mode: 'clamp' },
  ]);
  assert.throws(() => parseInterventionFlags(['2:17'], undefined), /--steer: expected LAYER:LATENT:VALUE/);
  assert.throws(() => parseInterventionFlags(undefined, ['a:1:0']), /--clamp: expected LAYER:LATENT:VALUE/);
  const model = await loadModel(join(FIX, 'models', 'llama3-gqa'), backend);
  const sae = loadSae(join(FIX, 'sae', 'saelens_relu'));
  assert.throws(
    () => interventionHooks(sae, [{ layer: 9, latent: 1, value: 1, mode: 'add' }], model.config.numLayers),
    /layer 9: the model has layers 0\.\.2/,
  );
});

test('per-row interventions in one batch (rows packed, each in its own cache slot) give each row exactly its result alone', async () => {
  const c = cases['llama-relu'];
  const model = await loadModel(join(FIX, 'models', c.model), backend);
  const sae = loadSae(join(FIX, 'sae', c.sae));
  const ids = Array.from(expected.read('llama-relu.ids').data, Number);
  const rows = [ids, ids.slice(3, 12), ids.slice(1)];
  const perRow: Intervention[][] = [
    c.interventions,
    [],
    [
      { layer: 1, latent: 7, value: -3, mode: 'add' },
      { layer: 0, latent: 17, value: 2, mode: 'clamp' },
    ],
  ];
  const cache = model.newCache(rows.length, ids.length);
  const batch = await model.forward(rows, cache, {
    hooks: rowInterventionHooks(sae, perRow, model.config.numLayers),
  });
  const all = (await batch.logits!.data()) as Float32Array;
  const V = model.config.vocabSize;
  for (const [r, row] of rows.entries()) {
    const alone = model.newCache(1, 256);
    const out = await model.forward([row], alone, {
      hooks: interventionHooks(sae, perRow[r], model.config.numLayers),
    });
    const first = rows.slice(0, r).reduce((a, x) => a + x.length, 0);
    assert.equal(
      maxAbsDiff(all.subarray(first * V, (first + row.length) * V), await out.logits!.data()),
      0,
      `row ${r}`,
    );
    out.logits!.dispose();
    alone.dispose();
  }
  batch.logits!.dispose();
  cache.dispose();
});
