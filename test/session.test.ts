// The shipped model and SAE get their own ablate defaults (--max-tokens 96, --calibrate-per-step 1) however
// their paths are written: the notebooks open 'data/model', the CLI an absolute path.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { flagOf, SettingError } from '../lib/errors.ts';
import { ablationOptions } from '../lib/experiments/config.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { hookName, residPost } from '../lib/model/hooks.ts';
import type { Sae } from '../lib/sae/index.ts';
import { checkSaeAt, featureHook, openSession } from '../lib/session.ts';
import { isShippedDefault, SHIPPED } from '../lib/settings/shipped.ts';

test('isShippedDefault: absolute, relative and trailing-slash paths of data/model and data/sae; nothing else', () => {
  const rel = { model: relative(process.cwd(), SHIPPED.model), sae: relative(process.cwd(), SHIPPED.sae) };
  assert.ok(isShippedDefault(SHIPPED));
  assert.ok(isShippedDefault(rel));
  assert.ok(isShippedDefault({ model: `${SHIPPED.model}/`, sae: `${rel.sae}/` }));
  assert.ok(!isShippedDefault({ model: SHIPPED.model, sae: `${SHIPPED.sae}-other` }));
  assert.ok(!isShippedDefault({ model: 'test/fixtures/models/llama3-gqa', sae: SHIPPED.sae }));
});

test('ablationOptions on a session opened with relative paths takes the shipped defaults', async () => {
  const session = await openSession({
    model: relative(process.cwd(), SHIPPED.model),
    sae: relative(process.cwd(), SHIPPED.sae),
    backend: 'cpu',
    workers: 0,
  });
  try {
    const lines: string[] = [];
    // the organism's esr_defaults.json (layer numbers L: resid_post.L) and a labelled latent of it
    const defaults = JSON.parse(readFileSync(join(SHIPPED.sae, 'esr_defaults.json'), 'utf8'));
    const labels = JSON.parse(readFileSync(join(SHIPPED.sae, defaults.feature_labels), 'utf8'));
    const [latent, label] = Object.entries(labels)[0] as [string, string];
    const o = await ablationOptions(session, {
      latents: '1,2,3',
      features: [{ latent: Number(latent), label }],
      log: (line) => lines.push(line),
    });
    // the shipped organism's overrides (ABLATION_SETTINGS: maxTokens 96, calibratePerStep 1), by origin
    assert.equal(o.sampling.maxNewTokens, 96);
    assert.equal(o.settings.origins.maxTokens, 'shipped model');
    if (defaults.boost === undefined) {
      assert.equal(o.strength.kind === 'calibrate' && o.strength.perStep, 1);
      assert.equal(o.settings.origins.calibratePerStep, 'shipped model');
    } else {
      // a shipped strength: steered at it, not calibrated
      assert.deepEqual(o.strength, { kind: 'fixed', boost: defaults.boost });
      assert.equal(o.settings.origins.boost, 'esr_defaults.json');
    }
    if (defaults.random_match !== undefined) assert.equal(o.randomMatch, defaults.random_match);
    assert.equal(o.settings.origins.steerLayer, 'esr_defaults.json');
    const hook = (v: number | string) => (typeof v === 'number' ? `blocks.${v}.hook_resid_post` : v);
    assert.equal(hookName(o.steerHook), hook(defaults.steer_layer));
    assert.equal(hookName(o.clampHook), hook(defaults.clamp_layer));
    assert.ok(
      lines.some((l) => l.startsWith('shipped default (the ESR organism)')),
      lines.join('\n'),
    );
  } finally {
    await session.close();
  }
});

test('featureHook: the SAE’s own hook point (any spelling), --layer overriding it with a note, clear errors', () => {
  const config = loadModelConfig(join(import.meta.dirname, 'fixtures', 'models', 'llama3-gqa'));
  const sae = (hookName?: string) => ({ info: { path: 'my-sae', hookName } }) as unknown as Sae;
  const name = (s: Sae, o?: Parameters<typeof featureHook>[2]) => hookName(featureHook(s, config, o));
  assert.equal(name(sae('blocks.2.hook_resid_pre')), 'blocks.2.hook_resid_pre');
  assert.equal(name(sae('model.layers.2')), 'blocks.2.hook_resid_post'); // an HF module name: that layer's output
  assert.equal(name(sae('blocks.1.hook_mlp_out')), 'blocks.1.hook_mlp_out');
  const notes: string[] = [];
  assert.equal(
    name(sae('blocks.2.hook_resid_pre'), { override: '2', log: (l) => notes.push(l) }),
    'blocks.2.hook_resid_post',
  );
  assert.deepEqual(notes, [
    'note: --layer 2 reads blocks.2.hook_resid_post, but the SAE was trained at blocks.2.hook_resid_pre (blocks.2.hook_resid_pre)',
  ]);
  assert.equal(name(sae(), { override: 'blocks.0.hook_mlp_out' }), 'blocks.0.hook_mlp_out');
  assert.equal(name(sae('blocks.7.ln2.hook_normalized'), { override: 1, log: () => {} }), 'blocks.1.hook_resid_post');
  const fails = (s: Sae, o: Parameters<typeof featureHook>[2], re: RegExp) =>
    assert.throws(
      () => featureHook(s, config, o),
      // as the command line shows it: settings as flags
      (e: unknown) => e instanceof SettingError && re.test(e.render(flagOf)),
    );
  fails(
    sae(),
    {},
    /my-sae: the SAE names no hook point .*; give --layer HOOK, e\.g\. --layer blocks\.12\.hook_resid_post/,
  );
  fails(sae(), { setting: 'codes' }, /give --codes HOOK/);
  fails(
    sae('blocks.7.ln2.hook_normalized'),
    {},
    /hook point "blocks\.7\.ln2\.hook_normalized" is not one this toolkit runs/,
  );
  fails(sae('blocks.5.hook_resid_pre'), {}, /blocks\.5\.hook_resid_pre names layer 5, but the model has layers 0\.\.2/);
  fails(
    sae(),
    { override: '3' },
    /--layer 3: blocks\.3\.hook_resid_post names layer 3, but the model has layers 0\.\.2/,
  );
});

test('checkSaeAt: the SAE must read the width found at its hook point', () => {
  const config = loadModelConfig(join(import.meta.dirname, 'fixtures', 'models', 'llama3-gqa'));
  const wide = (dIn: number) => ({ dIn, info: { path: 'my-sae' } }) as unknown as Sae;
  checkSaeAt(wide(64), residPost(1), config);
  assert.throws(
    () => checkSaeAt(wide(32), residPost(1), config),
    /my-sae: the SAE's d_in is 32, but blocks\.1\.hook_resid_post of this model is 64 wide/,
  );
  assert.throws(
    () => checkSaeAt(wide(32), { kind: 'attn_z', layer: 1 }, { ...config, numHeads: 4, headDim: 16 }),
    /blocks\.1\.attn\.hook_z of this model is 64 wide/,
  );
});
