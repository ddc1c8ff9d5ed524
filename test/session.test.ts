// The shipped model and SAE get their own ablate defaults (--max-tokens 96, --calibrate-per-step 1) however
// their paths are written: the notebooks open 'data/model', the CLI an absolute path.
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { test } from 'node:test';
import { ablationOptions } from '../lib/experiments/config.ts';
import { openSession } from '../lib/session.ts';
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
    const o = await ablationOptions(session, {
      latents: '1,2,3',
      features: [{ latent: 256, label: 'composting' }],
      log: (line) => lines.push(line),
    });
    // the shipped organism's overrides (ABLATION_SETTINGS: maxTokens 96, calibratePerStep 1), by origin
    assert.equal(o.sampling.maxNewTokens, 96);
    assert.equal(o.strength.kind === 'calibrate' && o.strength.perStep, 1);
    assert.equal(o.settings.origins.maxTokens, 'shipped model');
    assert.equal(o.settings.origins.calibratePerStep, 'shipped model');
    assert.equal(o.settings.origins.steerLayer, 'esr_defaults.json');
    assert.ok(
      lines.some((l) => l.startsWith('shipped default (the ESR organism)')),
      lines.join('\n'),
    );
  } finally {
    await session.close();
  }
});
