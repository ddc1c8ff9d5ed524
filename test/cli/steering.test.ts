// forward --sae --steer --clamp --codes and generate --steer through the CLI, against the transformers-hook
// reference of test/fixtures/steering.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { assertExit, runCli } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'steer-cli-'));
const expected = new SafetensorsFile(join(FIX, 'steering', 'expected.safetensors'));
const c = JSON.parse(readFileSync(join(FIX, 'steering', 'cases.json'), 'utf8'))['llama-relu'];
const flags = (c.interventions as { layer: number; latent: number; value: number; mode: string }[]).flatMap((iv) => [
  iv.mode === 'add' ? '--steer' : '--clamp',
  `${iv.layer}:${iv.latent}:${iv.value}`,
]);
const ids = Array.from(expected.read('llama-relu.ids').data, Number).join(',');
const analyze = (...args: string[]) => runCli(args);

test('forward --steer/--clamp/--codes writes transformers-hook logits and feature-layer codes', () => {
  const out = join(tmp, 'steered.safetensors');
  const r = analyze(
    'forward',
    '--model',
    join(FIX, 'models', c.model),
    '--sae',
    join(FIX, 'sae', c.sae),
    ...flags,
    '--codes',
    String(c.feature_layer),
    '--ids',
    ids,
    '--out',
    out,
  );
  assertExit(r, 0);
  const got = new SafetensorsFile(out);
  for (const [name, ref] of [
    ['logits', 'llama-relu.logits'],
    [`codes.${c.feature_layer}`, 'llama-relu.codes'],
  ]) {
    const a = got.read(name).data,
      b = expected.read(ref).data;
    assert.equal(a.length, b.length, name);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    assert.ok(diff < 1e-4, `${name}: ${diff}`);
  }
});

test('generate --steer changes the greedy continuation; interventions without --sae are refused', () => {
  const model = join(FIX, 'models', c.model);
  const plain = analyze('generate', '--model', model, '--ids', ids, '--max-tokens', '12', '--json');
  const steered = analyze(
    'generate',
    '--model',
    model,
    '--sae',
    join(FIX, 'sae', c.sae),
    '--steer',
    '0:5:40',
    '--ids',
    ids,
    '--max-tokens',
    '12',
    '--json',
  );
  assertExit(plain, 0);
  assertExit(steered, 0);
  assert.notDeepEqual(JSON.parse(steered.stdout).tokens, JSON.parse(plain.stdout).tokens);
  const bad = analyze('generate', '--model', model, '--steer', '0:5:40', '--ids', ids);
  assertExit(bad, 2, /--steer and --clamp need --sae/);
  const badCodes = analyze(
    'forward',
    '--model',
    model,
    '--sae',
    join(FIX, 'sae', c.sae),
    '--codes',
    '9',
    '--ids',
    ids,
    '--out',
    join(tmp, 'x.safetensors'),
  );
  assertExit(badCodes, 2, /--codes 9: the model has layers 0\.\.2/);
});
