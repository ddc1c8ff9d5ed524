// --adapter and --merge-adapter end to end: forward gives peft's logits, capture with workers records the adapter,
// the merged checkpoint alone gives the same, and bad adapters are exit 2 before any output.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { maxAbsDiff } from '../support/model-cases.ts';
import { assertExit, runCli, runCliInProcess } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures');
const MODEL = join(FIX, 'models', 'llama3-gqa');
const ADAPTER = join(FIX, 'adapters', 'llama3-gqa-all');
const expected = new SafetensorsFile(join(ADAPTER, 'expected.safetensors'));
const ids = Array.from(expected.read('ids.0').data, Number).join(',');
const tmp = mkdtempSync(join(tmpdir(), 'adapter-cli-'));

const analyze = (...args: string[]) => runCli([...args, '--backend', 'wasm']);
/** A refusal before any work (exit 2), run in this process as a child would run it (test/support/cli.ts). */
const refused = (...args: string[]) => runCliInProcess([...args, '--backend', 'wasm']);

const logitsOf = (file: string) => new SafetensorsFile(file).read('logits').data;

test("forward --adapter writes peft's logits; --merge-adapter alone writes a checkpoint that gives them without the adapter", () => {
  const out = join(tmp, 'adapted.safetensors');
  const r = analyze('forward', '--model', MODEL, '--adapter', ADAPTER, '--ids', ids, '--out', out);
  assertExit(r, 0);
  assert.ok(maxAbsDiff(logitsOf(out), expected.read('logits.0').data) < 1e-4);

  const merged = join(tmp, 'merged');
  const m = analyze('generate', '--model', MODEL, '--adapter', ADAPTER, '--merge-adapter', merged);
  assertExit(m, 0, /merged .* 24 tensors changed, wrote .*merged/);
  assert.equal(m.stdout, '', 'merge only: no generation');
  const viaMerged = join(tmp, 'merged.safetensors');
  const f = analyze('forward', '--model', merged, '--ids', ids, '--out', viaMerged);
  assertExit(f, 0);
  assert.ok(maxAbsDiff(logitsOf(viaMerged), expected.read('logits.0').data) < 1e-4);
});

test('capture --adapter on worker threads records the adapter in meta.json and captures the adapted model', () => {
  const samples = join(FIX, 'capture', 'samples.jsonl');
  const sae = join(FIX, 'sae', 'saelens_relu');
  const run = (out: string, ...extra: string[]) =>
    analyze('capture', '--model', MODEL, '--sae', sae, '--layer', '1', '--samples', samples, '--out', out, ...extra);
  const plain = join(tmp, 'plain.acts');
  const adapted = join(tmp, 'adapted.acts');
  assertExit(run(plain), 0);
  const r = run(adapted, '--adapter', ADAPTER, '--workers', '1');
  assertExit(r, 0);
  const meta = JSON.parse(readFileSync(join(adapted, 'meta.json'), 'utf8'));
  assert.equal(meta.model.adapter.path, ADAPTER);
  assert.match(meta.model.adapter.files['adapter_model.safetensors'], /^[0-9a-f]{64}$/);
  assert.equal(JSON.parse(readFileSync(join(plain, 'meta.json'), 'utf8')).model.adapter, undefined);
  assert.notDeepEqual(readFileSync(join(adapted, 'codes.arrow')), readFileSync(join(plain, 'codes.arrow')));
});

test('bad adapters and flags are exit 2 naming the problem, with nothing written', async () => {
  const out = join(tmp, 'never.safetensors');
  const dora = await refused(
    'forward',
    '--model',
    MODEL,
    '--adapter',
    join(FIX, 'adapters', 'refused', 'dora'),
    '--ids',
    ids,
    '--out',
    out,
  );
  assertExit(dora, 2, /use_dora=true is not supported/);
  const noAdapter = await refused('generate', '--model', MODEL, '--merge-adapter', join(tmp, 'm2'));
  assertExit(noAdapter, 2, /--merge-adapter applies only with --adapter/);
  const wrongModel = analyze(
    'generate',
    '--model',
    MODEL,
    '--adapter',
    join(FIX, 'adapters', 'gemma2-all-linear'),
    '--merge-adapter',
    join(tmp, 'm3'),
  );
  assertExit(wrongModel, 2, /no tensor for model\.layers\.3\./);
  for (const p of [out, join(tmp, 'm2'), join(tmp, 'm3')]) assert.ok(!existsSync(p), p);
});
