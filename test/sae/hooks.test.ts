// Clamp/steer hooks × --codes read-out × every SAE format and architecture: the SAE's resident encoder
// blocks, first uploaded inside the forward pass (a TopK clamp encodes fully), must survive it, and the
// read-out codes must equal those of a freshly loaded SAE on the same residual stream.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { loadModel } from '../../lib/model/load.ts';
import { denseCodes, encodeSparse, loadSae } from '../../lib/sae/index.ts';
import { interventionHooks } from '../../lib/steering/interventions.ts';
import type { Intervention } from '../../lib/steering/types.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const SAES = [
  'saelens_relu',
  'saelens_jumprelu',
  'saelens_topk_bf16',
  'saelens_topk_legacy',
  'gemmascope',
  'goodfire_f32.pth',
  'goodfire_bf16.pt',
  'plain_saelens_jumprelu_bf16.safetensors',
  'plain_goodfire_bf16.safetensors',
];
const MODES: Record<string, Intervention[]> = {
  clamp: [
    { hook: 'blocks.1.hook_resid_post', layer: 1, latent: 3, value: 0, mode: 'clamp' },
    { hook: 'blocks.1.hook_resid_post', layer: 1, latent: 11, value: 2, mode: 'clamp' },
  ],
  steer: [{ hook: 'blocks.1.hook_resid_post', layer: 1, latent: 5, value: 4, mode: 'add' }],
  both: [
    { hook: 'blocks.0.hook_resid_post', layer: 0, latent: 5, value: 4, mode: 'add' },
    { hook: 'blocks.1.hook_resid_post', layer: 1, latent: 7, value: 0, mode: 'clamp' },
  ],
};

test('clamp/steer × codes read-out × every SAE architecture: no tensor used after dispose, codes as a fresh SAE gives', async () => {
  const backend = await openBackend('cpu', () => {});
  const model = await loadModel(join(FIX, 'models', 'llama3-gqa'), backend);
  const ids = [1, 5, 9, 14, 2, 7, 30, 12];
  for (const name of SAES) {
    for (const [mode, interventions] of Object.entries(MODES)) {
      const sae = loadSae(join(FIX, 'sae', name));
      const cache = model.newCache(1, 256);
      const out = await model.forward([ids], cache, {
        read: ['resid_post.1'],
        hooks: interventionHooks(sae, interventions, model.config),
      });
      const h = out.acts.get('resid_post.1')! as tf.Tensor2D;
      const got = denseCodes(await encodeSparse(sae, h)); // the same SAE object the hooks used
      const ref = denseCodes(await encodeSparse(loadSae(join(FIX, 'sae', name)), h));
      assert.deepEqual(got, ref, `${name} ${mode}`);
      assert.ok(got.every(Number.isFinite), `${name} ${mode}: finite codes`);
      out.logits?.dispose();
      out.acts.forEach((t) => t.dispose());
      cache.dispose();
      sae.dispose();
    }
  }
});
