// Hook point names (lib/model/hooks.ts) and the forward pass's hook sites (lib/model/sites.ts): every spelling
// parses to its TransformerLens name, bad names and blocks past the model are input errors naming the valid
// range, and a read-out of resid_pre.L stops the pass early with the same values as resid_post.(L − 1).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { InputError } from '../../lib/errors.ts';
import {
  checkHook,
  HOOK_KINDS,
  hookName,
  hookWidth,
  lastBlockFor,
  parseHook,
  resolveHook,
  tryParseHook,
} from '../../lib/model/hooks.ts';
import { loadModel } from '../../lib/model/load.ts';
import { MODEL_FIXTURES, maxAbsDiff } from '../support/model-cases.ts';

const backend = await openBackend('wasm', () => {});
const shape = { numLayers: 4, hiddenSize: 64, numHeads: 8, headDim: 16 };

test('every spelling parses to its TransformerLens name', () => {
  const cases: [string, string][] = [
    ['hook_embed', 'hook_embed'],
    ['embed', 'hook_embed'],
    ['blocks.3.hook_resid_pre', 'blocks.3.hook_resid_pre'],
    ['blocks.0.hook_resid_post', 'blocks.0.hook_resid_post'],
    ['blocks.2.hook_attn_out', 'blocks.2.hook_attn_out'],
    ['blocks.2.hook_mlp_out', 'blocks.2.hook_mlp_out'],
    ['blocks.2.hook_resid_mid', 'blocks.2.hook_resid_mid'],
    ['blocks.12.attn.hook_z', 'blocks.12.attn.hook_z'],
    ['resid_post.3', 'blocks.3.hook_resid_post'],
    ['resid_pre.1', 'blocks.1.hook_resid_pre'],
    ['mlp_out.1', 'blocks.1.hook_mlp_out'],
    ['attn_out.1', 'blocks.1.hook_attn_out'],
    ['resid_mid.1', 'blocks.1.hook_resid_mid'],
    ['attn_z.1', 'blocks.1.attn.hook_z'],
    ['19', 'blocks.19.hook_resid_post'],
    ['model.layers.19', 'blocks.19.hook_resid_post'],
    ['model.model.layers.19', 'blocks.19.hook_resid_post'],
    [' blocks.1.hook_mlp_out ', 'blocks.1.hook_mlp_out'],
  ];
  for (const [text, name] of cases) assert.equal(hookName(parseHook(text, 'x')), name, text);
  // the canonical name is a fixed point
  for (const kind of HOOK_KINDS) {
    const name = hookName({ kind, layer: kind === 'embed' ? 0 : 5 });
    assert.equal(hookName(parseHook(name, 'x')), name);
  }
});

test('names that are no hook point are input errors listing the forms', () => {
  for (const bad of [
    'blocks.3.ln2.hook_normalized',
    'blocks.3.hook_resid',
    'blocks.x.hook_resid_post',
    'model.layers.3.mlp',
    'resid_post',
    '-1',
    '3.5',
    '',
  ]) {
    assert.equal(tryParseHook(bad), null, bad);
    assert.throws(
      () => parseHook(bad, '--layer'),
      (e: unknown) =>
        e instanceof InputError && /--layer: ".*" is not a hook point; expected one of hook_embed/.test(e.message),
      bad,
    );
  }
});

test('a block past the model is an input error naming the valid range; embed needs none', () => {
  assert.throws(
    () => resolveHook('blocks.4.hook_resid_pre', shape, '--steer-layer'),
    (e: unknown) =>
      e instanceof InputError &&
      e.message ===
        '--steer-layer blocks.4.hook_resid_pre: blocks.4.hook_resid_pre names layer 4, but the model has layers 0..3',
  );
  assert.throws(() => checkHook({ kind: 'mlp_out', layer: 7 }, shape, 'x'), /layers 0\.\.3/);
  assert.deepEqual(resolveHook('3', shape, 'x'), { kind: 'resid_post', layer: 3 });
  assert.deepEqual(resolveHook('hook_embed', { ...shape, numLayers: 1 }, 'x'), { kind: 'embed', layer: 0 });
});

test('widths and how far a pass runs', () => {
  assert.equal(hookWidth(parseHook('blocks.1.attn.hook_z', 'x'), shape), 128);
  assert.equal(hookWidth(parseHook('blocks.1.hook_mlp_out', 'x'), shape), 64);
  assert.equal(lastBlockFor(parseHook('hook_embed', 'x')), -1);
  assert.equal(lastBlockFor(parseHook('blocks.0.hook_resid_pre', 'x')), -1);
  assert.equal(lastBlockFor(parseHook('blocks.2.hook_resid_pre', 'x')), 1);
  assert.equal(lastBlockFor(parseHook('blocks.2.hook_mlp_out', 'x')), 2);
});

test('read-outs: resid_pre.L = resid_post.(L−1), resid_pre.0 = hook_embed; a logit-free pass stops early; names as asked; unfused sites give the fused logits', async () => {
  const model = await loadModel(join(MODEL_FIXTURES, 'gemma2-f16'), backend);
  const ids = [3, 17, 99, 250, 4, 8, 61];
  const full = await model.forward([ids], model.newCache(1, 16), {
    read: ['blocks.1.hook_resid_post', 'hook_embed', 'resid_post.3', 'blocks.3.hook_resid_post'],
  });
  assert.deepEqual([...full.acts.keys()].sort(), [
    'blocks.1.hook_resid_post',
    'blocks.3.hook_resid_post',
    'hook_embed',
    'resid_post.3',
  ]);
  const partial = await model.forward([ids], model.newCache(1, 16), {
    logits: 'none',
    read: ['blocks.2.hook_resid_pre', 'blocks.0.hook_resid_pre'],
  });
  assert.equal(partial.logits, null);
  const data = async (t: tf.Tensor | undefined) => t!.data();
  assert.equal(
    maxAbsDiff(
      await data(partial.acts.get('blocks.2.hook_resid_pre')),
      await data(full.acts.get('blocks.1.hook_resid_post')),
    ),
    0,
  );
  assert.equal(
    maxAbsDiff(await data(partial.acts.get('blocks.0.hook_resid_pre')), await data(full.acts.get('hook_embed'))),
    0,
  );
  // reading attn_out and mlp_out takes the unfused path (project, then add): the same logits as the fused one
  const unfused = await model.forward([ids], model.newCache(1, 16), {
    read: ['blocks.0.hook_attn_out', 'blocks.2.hook_mlp_out'],
  });
  assert.ok(maxAbsDiff(await unfused.logits!.data(), await full.logits!.data()) < 1e-5);
  [full, partial, unfused].forEach((o) => {
    o.logits?.dispose();
    o.acts.forEach((t) => t.dispose());
  });
});

test('a forward hook at an unknown point or twice at one point is refused', async () => {
  const model = await loadModel(join(MODEL_FIXTURES, 'llama3-gqa'), backend);
  const id = async (x: tf.Tensor2D) => x.clone();
  const run = (hooks: Map<string, (x: tf.Tensor2D) => Promise<tf.Tensor2D>>) =>
    model.forward([[1, 2]], model.newCache(1, 8), { hooks });
  await assert.rejects(
    run(new Map([['blocks.1.hook_q', id]])),
    /forward hook: "blocks\.1\.hook_q" is not a hook point/,
  );
  await assert.rejects(run(new Map([['blocks.5.hook_mlp_out', id]])), /names layer 5, but the model has layers 0\.\.2/);
  await assert.rejects(
    run(
      new Map([
        ['resid_post.1', id],
        ['blocks.1.hook_resid_post', id],
      ]),
    ),
    /two forward hooks at blocks\.1\.hook_resid_post/,
  );
});
