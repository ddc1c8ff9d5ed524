// Settings tables (lib/settings): kinds and their bounds, the layered merge with origins, conflicts and
// applicability, the config.json record, flags derived from names, and errors that name settings in the
// library and flags on the command line.
import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import yargs from 'yargs';
import { cliInput, joinTables, settingOptions } from '../../lib/cli/settings.ts';
import { flagOf, SettingError, settingRef } from '../../lib/errors.ts';
import { bool, custom, int, num, oneOf, text } from '../../lib/settings/kinds.ts';
import { readSaeDefaults } from '../../lib/settings/sources.ts';
import {
  checkInput,
  type Input,
  recordSettings,
  required,
  resolveSettings,
  snakeOf,
  type Sources,
} from '../../lib/settings/table.ts';

const T = {
  steps: int({ doc: 'steps', min: 1, max: 50, default: 10, key: 'strength.steps', sae: 'value' }),
  target: num({
    doc: 'target',
    min: 0,
    max: 100,
    open: 'both',
    default: 30,
    shipped: 20,
    key: 'strength.target',
    sae: 'value',
    requires: { absent: 'boost', why: 'a fixed strength is not calibrated' },
  }),
  boost: num({ doc: 'boost', min: -1e6, max: 1e6, key: 'strength.boost' }),
  labels: text({ doc: 'labels', key: 'features.labels', sae: 'path' }),
  mode: oneOf(['a', 'b'] as const, { doc: 'mode', default: 'a', key: 'mode' }),
  layer: int({ doc: 'layer', min: 0, default: null, auto: 'the feature layer', key: 'layer' }),
  sets: int({ doc: 'sets', min: 1, default: 1, key: 'sets', requires: { includes: ['conditions', 'random'] } }),
  sweepRange: num({ doc: 'range', min: 0, open: 'min', key: 'sweep.range', requires: { given: ['sweep'] } }),
  sweep: int({ doc: 'sweep', min: 1, key: 'sweep.k', conflicts: [{ with: 'boost', why: 'a sweep calibrates' }] }),
  conditions: custom<string[], string>({
    doc: 'conditions',
    default: ['baseline'],
    cli: { type: 'string' },
    expected: 'a list of conditions',
    valid: (v) => Array.isArray(v) && v.length > 0,
    parse: (c) => c.split(','),
    key: 'conditions',
  }),
  quiet: bool({ doc: 'quiet', default: false, key: null }),
};

/** A notebook without types may pass anything. */
const untyped = (o: object) => o as Input<typeof T>;

const message = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

test('flags are the names in kebab case; esr_defaults.json keys in snake case', () => {
  assert.equal(flagOf('maxTokens'), '--max-tokens');
  assert.equal(flagOf('calibratePerStep'), '--calibrate-per-step');
  assert.equal(flagOf('seed'), '--seed');
  assert.equal(flagOf('boostSweepAbsolute'), '--boost-sweep-absolute');
  assert.equal(snakeOf('steerLayer'), 'steer_layer');
  assert.equal(snakeOf('featureLabels'), 'feature_labels');
});

test('kinds: bounds in the message, values shown as written (Infinity, not null)', () => {
  assert.equal(
    message(() => checkInput(T, { steps: 0 })),
    'steps: expected an integer in [1, 50], found 0',
  );
  assert.equal(
    message(() => checkInput(T, { steps: 2.5 })),
    'steps: expected an integer in [1, 50], found 2.5',
  );
  assert.equal(
    message(() => checkInput(T, { target: 100 })),
    'target: expected a number in (0, 100), found 100',
  );
  assert.equal(
    message(() => checkInput(T, { boost: Number.POSITIVE_INFINITY })),
    'boost: expected a number in [-1000000, 1000000], found Infinity',
  );
  assert.equal(
    message(() => checkInput(T, { boost: 1e308 })),
    'boost: expected a number in [-1000000, 1000000], found 1e+308',
  );
  assert.equal(
    message(() => checkInput(T, { boost: Number.NaN })),
    'boost: expected a number in [-1000000, 1000000], found NaN',
  );
  assert.equal(
    message(() => checkInput(T, untyped({ mode: 'c' }))),
    'mode: expected one of a, b, found "c"',
  );
  assert.equal(
    message(() => checkInput(T, { labels: ' ' })),
    'labels: expected non-empty text, found " "',
  );
  // null is "automatic" only where the default is
  assert.doesNotThrow(() => checkInput(T, { layer: null }));
  assert.equal(
    message(() => checkInput(T, untyped({ steps: null }))),
    'steps: expected an integer in [1, 50], found null',
  );
});

test('an unknown setting is refused, with the nearest name', () => {
  const m = message(() => checkInput(T, untyped({ Steps: 3 })));
  assert.match(m, /^"Steps" is not a setting here \(did you mean steps\?\)/);
});

test('layered merge: explicit > esr_defaults.json > shipped model > default, each value with its origin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'settings-'));
  writeFileSync(join(dir, 'labels.json'), '{}');
  writeFileSync(join(dir, 'esr_defaults.json'), JSON.stringify({ steps: 7, labels: 'labels.json', note: 'x' }));
  const sae: Sources['sae'] = readSaeDefaults(dir);
  const r = resolveSettings(T, { mode: 'b' }, { shipped: true, sae });
  assert.deepEqual(r.values, {
    steps: 7,
    target: 20,
    boost: undefined,
    labels: join(dir, 'labels.json'),
    mode: 'b',
    layer: null,
    sets: 1,
    sweepRange: undefined,
    sweep: undefined,
    conditions: ['baseline'],
    quiet: false,
  });
  assert.deepEqual(r.origins, {
    steps: 'esr_defaults.json',
    target: 'shipped model',
    boost: 'default',
    labels: 'esr_defaults.json',
    mode: 'explicit',
    layer: 'default',
    sets: 'default',
    sweepRange: 'default',
    sweep: 'default',
    conditions: 'default',
    quiet: 'default',
  });
  const own = resolveSettings(T, { steps: 3 }, { shipped: false, sae });
  assert.equal(own.values.steps, 3);
  assert.equal(own.origins.steps, 'explicit');
  assert.equal(own.values.target, 30, 'the shipped override applies to the shipped model only');
});

test("esr_defaults.json: values checked naming the file and key; paths stay inside the SAE's folder and exist", () => {
  const dir = mkdtempSync(join(tmpdir(), 'settings-'));
  const file = join(dir, 'esr_defaults.json');
  const sources = (json: object): Sources => {
    writeFileSync(file, JSON.stringify(json));
    return { shipped: false, sae: readSaeDefaults(dir) };
  };
  assert.equal(
    message(() => resolveSettings(T, {}, sources({ steps: 0 }))),
    `${file}: steps: expected an integer in [1, 50], found 0`,
  );
  assert.equal(
    message(() => resolveSettings(T, {}, sources({ labels: '../outside.json' }))),
    `${file}: labels: "../outside.json" is outside the SAE's folder (paths there are relative to it)`,
  );
  assert.equal(
    message(() => resolveSettings(T, {}, sources({ labels: 'missing.json' }))),
    `${file}: labels: ${join(dir, 'missing.json')} not found`,
  );
  // nor through a link out of it: refused unread, so no error can echo that file
  const secret = join(mkdtempSync(join(tmpdir(), 'settings-secret-')), 'secret.txt');
  writeFileSync(secret, 'root:x:0:0:secret\n');
  symlinkSync(secret, join(dir, 'link.csv'));
  assert.equal(
    message(() => resolveSettings(T, {}, sources({ labels: 'link.csv' }))),
    `${file}: labels: "link.csv" leads outside the SAE's folder (a link); give the file as a flag to use it`,
  );
  writeFileSync(join(dir, 'inside.csv'), '3,three\n');
  assert.equal(resolveSettings(T, {}, sources({ labels: 'inside.csv' })).values.labels, join(dir, 'inside.csv'));
  // a setting the file may not set is ignored (mode has no `sae`)
  assert.equal(resolveSettings(T, {}, sources({ mode: 'b' })).values.mode, 'a');
  // an SAE file's defaults sit in its folder
  writeFileSync(join(dir, 'esr_defaults.json'), '[1]');
  assert.throws(() => readSaeDefaults(join(dir, 'sae.safetensors')), /esr_defaults\.json: expected a JSON object/);
});

test('conflicts between given settings, and settings given where they do not apply', () => {
  assert.equal(
    message(() => checkInput(T, { sweep: 3, boost: 1 })),
    'sweep and boost conflict: a sweep calibrates',
  );
  assert.equal(
    message(() => resolveSettings(T, { target: 40, boost: 2 })),
    'target does not apply with boost: a fixed strength is not calibrated',
  );
  assert.equal(
    message(() => resolveSettings(T, { sets: 2 })),
    'sets applies to random in conditions; add random to conditions',
  );
  assert.doesNotThrow(() => resolveSettings(T, { sets: 2, conditions: ['baseline', 'random'] }));
  assert.equal(
    message(() => resolveSettings(T, { sweepRange: 2 })),
    'sweepRange applies only with sweep; give it',
  );
  // a default that does not apply is no conflict
  assert.doesNotThrow(() => resolveSettings(T, { boost: 2 }, { shipped: true, sae: null }));
});

test('esr_defaults.json may ship a boost: explicit flags win, calibration settings set it aside, a file with both is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'settings-'));
  const file = join(dir, 'esr_defaults.json');
  const sources = (json: object): Sources => {
    writeFileSync(file, JSON.stringify(json));
    return { shipped: true, sae: readSaeDefaults(dir) };
  };
  const B = { ...T, boost: num({ doc: 'boost', min: -1e6, max: 1e6, key: 'strength.boost', sae: 'value' }) };
  const shippedBoost = sources({ boost: 138 });
  const r = resolveSettings(B, {}, shippedBoost);
  assert.equal(r.values.boost, 138);
  assert.equal(r.origins.boost, 'esr_defaults.json');
  assert.equal(r.values.target, 20, 'the shipped target stays a value, but does not apply beside a boost');
  assert.deepEqual(r.setAside, []);
  // an explicit boost wins over the file's
  assert.equal(resolveSettings(B, { boost: 5 }, shippedBoost).values.boost, 5);
  // a calibration setting (it applies only without a boost) or a sweep (it conflicts with one) sets the file's aside
  for (const given of [{ target: 40 }, { sweep: 3 }] as Input<typeof B>[]) {
    const c = resolveSettings(B, given, shippedBoost);
    assert.equal(c.values.boost, undefined);
    assert.equal(c.origins.boost, 'default');
    assert.deepEqual(c.setAside, [
      { name: 'boost', origin: 'esr_defaults.json', value: 138, by: Object.keys(given)[0] },
    ]);
  }
  // without the file's boost, the same input is what it was: nothing set aside
  assert.deepEqual(resolveSettings(B, { sweep: 3 }, sources({ steps: 4 })).setAside, []);
  // the file itself may not set a boost and a calibration setting together (whichever the caller gives)
  for (const given of [{}, { boost: 2 }, { target: 40 }] as Input<typeof B>[])
    assert.equal(
      message(() => resolveSettings(B, given, sources({ boost: 138, target: 25 }))),
      `${file}: target and boost cannot both be set (a fixed strength is not calibrated); keep one of them in the file`,
    );
  // a shipped-model override is set aside the same way (the lower layers yield alike)
  const S = { ...T, boost: num({ doc: 'boost', min: -1e6, max: 1e6, key: 'strength.boost', shipped: 9 }) };
  const s = resolveSettings(S, { sweep: 2 }, { shipped: true, sae: null });
  assert.equal(s.values.boost, undefined);
  assert.deepEqual(s.setAside, [{ name: 'boost', origin: 'shipped model', value: 9, by: 'sweep' }]);
});

test('required: a missing value names the setting and what to give', () => {
  const r = resolveSettings(T, {});
  assert.equal(
    message(() => required(r, 'boost', 'a fixed strength')),
    'give boost: a fixed strength',
  );
  assert.equal(required(resolveSettings(T, { boost: 3 }), 'boost', 'x'), 3);
});

test("recordSettings: a stage's own structure is kept; every other applying setting with a value is placed at its key", () => {
  const values = resolveSettings(T, { boost: 2 }).values;
  const base = { strength: { kind: 'fixed', boost: 2 }, mode: 'a' };
  const record = recordSettings(T, values, base);
  assert.deepEqual(record, {
    strength: { kind: 'fixed', boost: 2, steps: 10 },
    mode: 'a',
    // target does not apply with a boost, nor sets without the random condition; layer null is recorded;
    // quiet has no key; settings without a value are left out
    layer: null,
    conditions: ['baseline'],
  });
});

test('SettingError: setting names in the library, flags on the command line', () => {
  const e = new SettingError(
    `${settingRef('steerLayer')} 7: the model has layers 0..3; see ${settingRef('clampLayer')}`,
  );
  assert.equal(e.message, 'steerLayer 7: the model has layers 0..3; see clampLayer');
  assert.equal(e.render(flagOf), '--steer-layer 7: the model has layers 0..3; see --clamp-layer');
});

test('yargs options from a table: one flag per setting, no defaults filled in, camelCase input parsed', async () => {
  const argv = await settingOptions(yargs([]), T)
    .strict()
    .parseAsync(['--steps', '4', '--conditions', 'baseline,random', '--sets', '2', '--quiet']);
  const input = cliInput(T, argv);
  assert.deepEqual(input, { steps: 4, sets: 2, conditions: ['baseline', 'random'], quiet: true });
  const none = cliInput(T, await settingOptions(yargs([]), T).parseAsync([]));
  assert.deepEqual(none, {}, 'a flag not given stays undefined, so its origin is the default');
  const bad = cliInput(T, await settingOptions(yargs([]), T).parseAsync(['--steps', 'x']));
  assert.equal(
    message(() => checkInput(T, bad)),
    'steps: expected an integer in [1, 50], found NaN',
  );
});

test('joinTables: the same declaration may appear twice; two different ones are refused', () => {
  assert.deepEqual(Object.keys(joinTables({ a: T.steps }, { a: T.steps, b: T.mode })), ['a', 'b']);
  assert.throws(() => joinTables({ a: T.steps }, { a: T.target }), /setting a is declared twice/);
});
