// Steering and clamping against transformers hooks on the WASM backend (cases in test/support/steering-cases.ts;
// test/webgpu.test.ts runs them on WebGPU), plus flag parsing and per-row interventions in a padded batch.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { loadModel } from '../../lib/model/load.ts';
import { loadSae } from '../../lib/sae/index.ts';
import {
  interventionHook,
  interventionHooks,
  parseInterventionFlags,
  rowInterventionHooks,
} from '../../lib/steering/interventions.ts';
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

test('--steer/--clamp flags parse to interventions at hook points and reject malformed values', async () => {
  assert.deepEqual(
    parseInterventionFlags(['2:17:8.5', 'blocks.3.hook_resid_pre:4:-1'], ['0:3:0', 'blocks.1.hook_mlp_out:9:2']),
    [
      { hook: 'blocks.2.hook_resid_post', layer: 2, latent: 17, value: 8.5, mode: 'add' },
      { hook: 'blocks.3.hook_resid_pre', layer: 3, latent: 4, value: -1, mode: 'add' },
      { hook: 'blocks.0.hook_resid_post', layer: 0, latent: 3, value: 0, mode: 'clamp' },
      { hook: 'blocks.1.hook_mlp_out', layer: 1, latent: 9, value: 2, mode: 'clamp' },
    ],
  );
  // the short forms and the HF module name land on the same canonical names
  assert.deepEqual(
    parseInterventionFlags(['resid_pre.2:1:1', 'model.layers.1:1:1', 'hook_embed:1:1', 'attn_z.0:1:1'], undefined).map(
      (iv) => iv.hook,
    ),
    ['blocks.2.hook_resid_pre', 'blocks.1.hook_resid_post', 'hook_embed', 'blocks.0.attn.hook_z'],
  );
  assert.throws(() => parseInterventionFlags(['2:17'], undefined), /--steer: expected HOOK:LATENT:VALUE/);
  assert.throws(() => parseInterventionFlags(undefined, ['a:1:0']), /--clamp: expected HOOK:LATENT:VALUE/);
  assert.throws(() => parseInterventionFlags(['blocks.2.hook_resid_pre:x:1'], undefined), /--steer: expected/);
  assert.throws(() => parseInterventionFlags(['blocks.2.ln2.hook_normalized:1:1'], undefined), /--steer: expected/);
  const model = await loadModel(join(FIX, 'models', 'llama3-gqa'), backend);
  const sae = loadSae(join(FIX, 'sae', 'saelens_relu'));
  assert.throws(
    () => interventionHooks(sae, parseInterventionFlags(['9:1:1'], undefined), model.config),
    /blocks\.9\.hook_resid_post names layer 9, but the model has layers 0\.\.2/,
  );
  assert.throws(
    () => interventionHooks(sae, parseInterventionFlags(['blocks.3.hook_resid_pre:1:1'], undefined), model.config),
    /blocks\.3\.hook_resid_pre names layer 3, but the model has layers 0\.\.2/,
  );
});

test('an SAE must read activations of the width found at its hook point (attn.hook_z is n_heads·head_dim wide)', async () => {
  const model = await loadModel(join(FIX, 'models', 'llama3-gqa'), backend);
  const sae = loadSae(join(FIX, 'sae', 'saelens_relu'));
  const narrow = { ...model.config, numHeads: 2 }; // hook_z 32 wide, the residual stream still 64
  assert.throws(
    () => interventionHooks(sae, parseInterventionFlags(['attn_z.1:1:1'], undefined), narrow),
    /the SAE reads 64-wide activations but blocks\.1\.attn\.hook_z is 32 wide/,
  );
  assert.doesNotThrow(() => interventionHooks(sae, parseInterventionFlags(['1:1:1'], undefined), narrow));
});

test('an intervention record written before hook points were named means resid_post.layer', () => {
  assert.deepEqual(interventionHook({ layer: 4 }), { kind: 'resid_post', layer: 4 });
  assert.deepEqual(interventionHook({ layer: 4, hook: 'blocks.4.hook_mlp_out' }), { kind: 'mlp_out', layer: 4 });
});

test('per-row interventions (at different hook points) in one batch (rows packed, each in its own cache slot) give each row exactly its result alone', async () => {
  const c = cases['llama-relu'];
  const model = await loadModel(join(FIX, 'models', c.model), backend);
  const sae = loadSae(join(FIX, c.sae));
  const ids = Array.from(expected.read('llama-relu.ids').data, Number);
  const rows = [ids, ids.slice(3, 12), ids.slice(1)];
  const perRow: Intervention[][] = [
    c.variants.mixed.interventions,
    [],
    [
      { hook: 'blocks.1.hook_resid_post', layer: 1, latent: 7, value: -3, mode: 'add' },
      { hook: 'blocks.0.hook_resid_post', layer: 0, latent: 17, value: 2, mode: 'clamp' },
      { hook: 'blocks.2.hook_resid_pre', layer: 2, latent: 3, value: 0, mode: 'clamp' },
      { hook: 'blocks.1.hook_mlp_out', layer: 1, latent: 11, value: 1.5, mode: 'clamp' },
    ],
  ];
  const cache = model.newCache(rows.length, ids.length);
  const batch = await model.forward(rows, cache, {
    hooks: rowInterventionHooks(sae, perRow, model.config),
  });
  const all = (await batch.logits!.data()) as Float32Array;
  const V = model.config.vocabSize;
  for (const [r, row] of rows.entries()) {
    const alone = model.newCache(1, 256);
    const out = await model.forward([row], alone, {
      hooks: interventionHooks(sae, perRow[r], model.config),
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
