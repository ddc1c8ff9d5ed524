// The intervention settings (--steer, --clamp): the command line's HOOK:LATENT:VALUE parsed into records, and
// a notebook's records checked by the same table, with the same message naming the setting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliInput } from '../../lib/cli/settings.ts';
import { SettingError } from '../../lib/errors.ts';
import { resolveSettings } from '../../lib/settings/table.ts';
import { INTERVENTION_SETTINGS } from '../../lib/steering/settings.ts';

test('--steer and --clamp parse into records at named hook points; none given is an empty list', () => {
  const input = cliInput(INTERVENTION_SETTINGS, {
    steer: ['2:17:8.5', 'blocks.3.hook_resid_pre:4:-1'],
    clamp: ['2:5:0'],
  });
  const { values, origins } = resolveSettings(INTERVENTION_SETTINGS, input);
  assert.deepEqual(values.steer, [
    { hook: 'blocks.2.hook_resid_post', layer: 2, latent: 17, value: 8.5, mode: 'add' },
    { hook: 'blocks.3.hook_resid_pre', layer: 3, latent: 4, value: -1, mode: 'add' },
  ]);
  assert.deepEqual(values.clamp, [{ hook: 'blocks.2.hook_resid_post', layer: 2, latent: 5, value: 0, mode: 'clamp' }]);
  assert.equal(origins.steer, 'explicit');
  assert.deepEqual(resolveSettings(INTERVENTION_SETTINGS, {}).values, { steer: [], clamp: [] });
});

test("a notebook's bad record is refused naming the setting: wrong mode, value out of range, negative latent", () => {
  const ok = { hook: 'blocks.2.hook_resid_post', layer: 2, latent: 17, value: 1 };
  const bad = [
    { steer: [{ ...ok, mode: 'clamp' as const }] },
    { clamp: [{ ...ok, value: 1e7, mode: 'clamp' as const }] },
    { steer: [{ ...ok, latent: -1, mode: 'add' as const }] },
  ];
  for (const input of bad) {
    const name = Object.keys(input)[0];
    assert.throws(
      () => resolveSettings(INTERVENTION_SETTINGS, input),
      (e: unknown) => e instanceof SettingError && e.text.startsWith(`‹${name}›: expected a list of {hook`),
    );
  }
});
