// forward --sae --steer --clamp --codes and generate --steer through the CLI, against the transformers-hook
// reference of test/fixtures/steering: numeric layers (resid_post.L) and hook names.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import type { Intervention } from '../../lib/steering/types.ts';
import { assertExit, runCli, runCliInProcess } from '../support/cli.ts';
import type { SteeringCase } from '../support/steering-cases.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'steer-cli-'));
const expected = new SafetensorsFile(join(FIX, 'steering', 'expected.safetensors'));
const cases: Record<string, SteeringCase> = JSON.parse(readFileSync(join(FIX, 'steering', 'cases.json'), 'utf8'));
const c = cases['llama-relu'];
/** --steer/--clamp flags; `numeric`: resid_post hook points as bare layer numbers. */
const flagsOf = (ivs: Intervention[], numeric: boolean) =>
  ivs.flatMap((iv) => [
    iv.mode === 'add' ? '--steer' : '--clamp',
    `${numeric ? iv.layer : iv.hook}:${iv.latent}:${iv.value}`,
  ]);
const ids = (name: string) => Array.from(expected.read(`${name}.ids`).data, Number).join(',');
const analyze = (...args: string[]) => runCli(args);
/** A refusal before any work (exit 2), run in this process as a child would run it (test/support/cli.ts). */
const refused = (...args: string[]) => runCliInProcess(args);

/** `analyze forward` on a case's model, SAE and ids into `out`, with more flags. */
const forward = (name: string, out: string, ...flags: string[]) =>
  analyze(
    'forward',
    '--model',
    join(FIX, 'models', cases[name].model),
    '--sae',
    join(FIX, cases[name].sae),
    ...flags,
    '--ids',
    ids(name),
    '--out',
    out,
  );

function assertClose(file: string, pairs: [string, string][]): void {
  const got = new SafetensorsFile(file);
  for (const [name, ref] of pairs) {
    const a = got.read(name).data,
      b = expected.read(ref).data;
    assert.equal(a.length, b.length, name);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    assert.ok(diff < 1e-4, `${name}: ${diff}`);
  }
}

test('forward --steer/--clamp LAYER:… --codes LAYER writes transformers-hook logits and resid_post codes', () => {
  const out = join(tmp, 'steered.safetensors');
  const { read, interventions } = c.variants.mixed;
  const layer = read.split('.')[1];
  const r = forward('llama-relu', out, ...flagsOf(interventions, true), '--codes', layer);
  assertExit(r, 0);
  assertClose(out, [
    ['logits', 'llama-relu.mixed.logits'],
    [`codes.${layer}`, 'llama-relu.mixed.codes'],
  ]);
});

for (const name of ['llama-resid_pre', 'gemma-mlp_out']) {
  test(`forward --clamp HOOK:… --codes at the SAE's own hook point (${name})`, () => {
    const { read, interventions } = cases[name].variants.clamped;
    const out = join(tmp, `${name}.safetensors`);
    const r = forward(name, out, ...flagsOf(interventions, false), '--codes');
    assertExit(r, 0);
    assertClose(out, [
      ['logits', `${name}.clamped.logits`],
      [`codes.${read}`, `${name}.clamped.codes`],
    ]);
    assert.deepEqual(new SafetensorsFile(out).read(read).shape, [ids(name).split(',').length, 64]);
  });
}

test('a bare layer number on a resid_pre SAE acts at resid_post and says so', () => {
  const r = forward('llama-resid_pre', join(tmp, 'numeric.safetensors'), '--clamp', '2:1:0');
  assertExit(r, 0);
  assert.match(r.stderr, /acts at blocks\.2\.hook_resid_post .* but the SAE reads blocks\.2\.hook_resid_pre/);
});

test('generate --steer changes the greedy continuation; interventions without --sae are refused', async () => {
  const model = join(FIX, 'models', c.model);
  const plain = analyze('generate', '--model', model, '--ids', ids('llama-relu'), '--max-tokens', '12', '--json');
  const steered = analyze(
    'generate',
    '--model',
    model,
    '--sae',
    join(FIX, c.sae),
    '--steer',
    'blocks.0.hook_resid_post:5:40',
    '--ids',
    ids('llama-relu'),
    '--max-tokens',
    '12',
    '--json',
  );
  assertExit(plain, 0);
  assertExit(steered, 0);
  assert.notDeepEqual(JSON.parse(steered.stdout).tokens, JSON.parse(plain.stdout).tokens);
  const bad = await refused('generate', '--model', model, '--steer', '0:5:40', '--ids', ids('llama-relu'));
  assertExit(bad, 2, /--steer and --clamp need --sae/);
  const badCodes = await refused(
    'forward',
    '--model',
    model,
    '--sae',
    join(FIX, c.sae),
    '--codes',
    '9',
    '--ids',
    ids('llama-relu'),
    '--out',
    join(tmp, 'x.safetensors'),
  );
  assertExit(badCodes, 2, /--codes 9: blocks\.9\.hook_resid_post names layer 9, but the model has layers 0\.\.2/);
});
