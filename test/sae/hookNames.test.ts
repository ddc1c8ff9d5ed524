// Where an SAE says it was trained (lib/sae/hookNames.ts and the SAELens cfg.json): Gemma Scope and Goodfire
// naming conventions as SAELens' loaders and the Goodfire model cards state them, Gemma Scope's embedding SAEs
// rescaled to read hook_embed (checked against the unscaled SAE by hand), and the hook points SAELens configs
// may name that this toolkit refuses.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { InputError } from '../../lib/errors.ts';
import { decode, denseCodes, encodeSparse, loadSae } from '../../lib/sae/index.ts';
import { gemmaScopeHook, goodfireHook } from '../../lib/sae/hookNames.ts';
import { maxAbsDiff } from '../support/model-cases.ts';

await openBackend('cpu', () => {});
const FIX = join(import.meta.dirname, '..', 'fixtures', 'sae');
const tmp = mkdtempSync(join(tmpdir(), 'sae-hooks-'));

/** A copy of `src` (file or SAELens folder) at `rel` under the temporary directory. */
function placed(src: string, rel: string): string {
  const to = join(tmp, rel);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(src, to);
  return to;
}

test('Gemma Scope folders map as SAELens gemma_2 loader maps them', () => {
  const cases: [string, string | null][] = [
    ['/hf/gemma-scope-9b-pt-res/layer_20/width_16k/average_l0_71/params.npz', 'blocks.20.hook_resid_post'],
    [
      '/c/models--google--gemma-scope-2b-pt-res/snapshots/abc/layer_16/width_16k/average_l0_80/params.npz',
      'blocks.16.hook_resid_post',
    ],
    ['/hf/gemma-scope-9b-it-mlp/layer_9/width_131k/average_l0_12/params.npz', 'blocks.9.hook_mlp_out'],
    ['/hf/gemma-scope-27b-pt-att/layer_3/width_16k/average_l0_25/params.npz', 'blocks.3.attn.hook_z'],
    ['/hf/gemma-scope-2b-pt-res/embedding/width_4k/average_l0_14/params.npz', 'hook_embed'],
    ['/hf/gemma-scope-2b-pt-res/params.npz', null],
    ['/somewhere/params.npz', null],
  ];
  for (const [path, name] of cases) assert.equal(gemmaScopeHook(path)?.name ?? null, name, path);
  assert.equal(gemmaScopeHook(cases[4][0])?.unscaledEmbedding, true);
  assert.throws(
    () => gemmaScopeHook('/hf/gemma-scope-2b-pt-transcoders/layer_3/width_16k/average_l0_5/params.npz'),
    (e: unknown) => e instanceof InputError && /transcoders are not supported/.test(e.message),
  );
});

test('Goodfire names: <model>-SAE-l<L> and model.layers.L are resid_post.L', () => {
  const cases: [string, string | null][] = [
    ['/hf/Llama-3.1-8B-Instruct-SAE-l19/Llama-3.1-8B-Instruct-SAE-l19.pth', 'blocks.19.hook_resid_post'],
    [
      '/c/models--Goodfire--Llama-3.3-70B-Instruct-SAE-l50/snapshots/x/Llama-3.3-70B-Instruct-SAE-l50.pt',
      'blocks.50.hook_resid_post',
    ],
    ['/w/Llama-3.1-8B-Instruct__model.layers.19.pth', 'blocks.19.hook_resid_post'],
    ['/w/sae.pth', null],
  ];
  for (const [path, name] of cases) assert.equal(goodfireHook(path)?.name ?? null, name, path);
});

test('loaded SAEs carry the hook point and where it came from', () => {
  const gs = loadSae(
    placed(join(FIX, 'gemmascope', 'params.npz'), 'gemma-scope-2b-pt-mlp/layer_4/width_16k/average_l0_9/params.npz'),
  );
  assert.equal(gs.info.hookName, 'blocks.4.hook_mlp_out');
  assert.match(gs.info.hookSource!, /Gemma Scope path \(gemma-scope-2b-pt-mlp\)/);
  const gf = loadSae(
    placed(join(FIX, 'goodfire_f32.pth'), 'Llama-3.1-8B-Instruct-SAE-l19/Llama-3.1-8B-Instruct-SAE-l19.pth'),
  );
  assert.equal(gf.info.hookName, 'blocks.19.hook_resid_post');
  assert.equal(loadSae(join(FIX, 'saelens_relu')).info.hookSource, 'cfg.json hook_name');
  assert.equal(loadSae(join(FIX, 'gemmascope')).info.hookName, undefined);
});

test("a Gemma Scope embedding SAE reads hook_embed: codes of x·√d equal the stored SAE's codes of x, decode scales by √d", async () => {
  const plain = loadSae(join(FIX, 'gemmascope'));
  const emb = loadSae(
    placed(join(FIX, 'gemmascope', 'params.npz'), 'gemma-scope-2b-pt-res/embedding/width_4k/average_l0_7/params.npz'),
  );
  assert.equal(emb.info.hookName, 'hook_embed');
  const d = plain.dIn;
  const s = Math.sqrt(d);
  const x = tf.randomNormal([5, d], 0, 1, 'float32', 7) as tf.Tensor2D;
  const codesPlain = await encodeSparse(plain, x);
  const codesEmb = await encodeSparse(emb, x.mul(s) as tf.Tensor2D);
  assert.ok(
    denseCodes(codesPlain).some((v) => v > 0),
    'some latents fire',
  );
  assert.ok(maxAbsDiff(denseCodes(codesEmb), denseCodes(codesPlain)) < 1e-4);
  const back = await decode(emb, codesEmb).data();
  const want = await decode(plain, codesPlain).mul(s).data();
  assert.ok(maxAbsDiff(back, want) < 1e-4);
});

test('SAELens configs: hook_name "model.layers.2" is kept; a head index or a non-string hook_name is refused', () => {
  const withCfg = (name: string, patch: Record<string, unknown>) => {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(FIX, 'saelens_relu', 'cfg.json'), 'utf8'));
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ ...cfg, ...patch }));
    copyFileSync(join(FIX, 'saelens_relu', 'sae_weights.safetensors'), join(dir, 'sae_weights.safetensors'));
    return dir;
  };
  assert.equal(loadSae(withCfg('hf-name', { hook_name: 'model.layers.2' })).info.hookName, 'model.layers.2');
  assert.throws(
    () => loadSae(withCfg('head', { hook_name: 'blocks.1.attn.hook_z', hook_head_index: 3 })),
    /field hook_head_index is 3, expected null \(SAEs on a single attention head are not supported\)/,
  );
  assert.throws(() => loadSae(withCfg('numeric', { hook_name: 7 })), /field hook_name is 7, expected a hook name/);
});
