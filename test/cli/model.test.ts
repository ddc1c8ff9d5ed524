// The forward and generate commands end to end, and the runtime's refusals of what it cannot run.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { backendWeightBytes } from '../../lib/model/load.ts';
import { assertExit, runCli, runCliInProcess } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL = join(ROOT, 'test', 'fixtures', 'models', 'llama3-gqa');
const tmp = mkdtempSync(join(tmpdir(), 'model-cli-'));

function analyze(...args: string[]) {
  return runCli(args);
}

/** A refusal before any work (exit 2), run in this process as a child would run it (test/support/cli.ts). */
function refused(...args: string[]) {
  return runCliInProcess(args);
}

test('forward --ids writes logits and every resid_post equal to transformers', () => {
  const expected = new SafetensorsFile(join(MODEL, 'expected.safetensors'));
  const ids = Array.from(expected.read('ids.2').data, Number);
  const out = join(tmp, 'fwd.safetensors');
  const r = analyze('forward', '--model', MODEL, '--ids', ids.join(','), '--out', out, '--backend', 'wasm');
  assertExit(r, 0, /^backend: wasm \(SIMD/m);
  const got = new SafetensorsFile(out);
  assert.deepEqual(got.names().sort(), ['logits', 'resid_post.0', 'resid_post.1', 'resid_post.2']);
  for (const [name, ref] of [
    ['logits', 'logits.2'],
    ['resid_post.2', 'resid_post.2.2'],
  ]) {
    const a = got.read(name).data,
      b = expected.read(ref).data;
    assert.equal(a.length, b.length);
    assert.ok(
      a.every((x, i) => Math.abs(x - b[i]) < 1e-4),
      name,
    );
  }
});

test('forward without --model runs the shipped model, as generate does', () => {
  const out = join(tmp, 'shipped.safetensors');
  assertExit(analyze('forward', '--text', 'Explain how to plant a tree.', '--out', out), 0);
  const config = loadModelConfig(join(ROOT, 'data', 'model'));
  const got = new SafetensorsFile(out);
  assert.deepEqual(got.read('logits').shape.slice(1), [config.vocabSize]);
  assert.equal(got.names().filter((n) => n.startsWith('resid_post.')).length, config.numLayers);
});

test('forward --chat renders the template; generate --json gives greedy tokens', () => {
  const chat = join(tmp, 'chat.json');
  writeFileSync(chat, JSON.stringify([{ role: 'user', content: 'Explain how to plant a tree.' }]));
  const r = analyze(
    'forward',
    '--model',
    MODEL,
    '--chat',
    chat,
    '--add-generation-prompt',
    '--out',
    join(tmp, 'chat.safetensors'),
  );
  assertExit(r, 0);
  const expected = new SafetensorsFile(join(MODEL, 'expected.safetensors'));
  const ids = Array.from(expected.read('ids.1').data, Number);
  const g = analyze('generate', '--model', MODEL, '--ids', ids.join(','), '--max-tokens', '32', '--json');
  assertExit(g, 0);
  const json = JSON.parse(g.stdout);
  assert.deepEqual(json.tokens, Array.from(expected.read('greedy').data, Number).slice(0, json.tokens.length));
  assert.equal(typeof json.text, 'string');
  assert.ok(json.timings.prefillMs >= 0);
  // llama3-gqa's linears and norms in f32 on the backend (the embedding table stays in JS memory)
  const c = loadModelConfig(MODEL);
  assert.equal(json.memory.weights_bytes, backendWeightBytes(c) + 4 * c.hiddenSize * (2 * c.numLayers + 1));
  assert.ok(json.memory.peak_bytes > json.memory.weights_bytes, JSON.stringify(json.memory));
});

test("forward --quantize fp8 gives transformers' logits on torch's FP8 weights; --dtype with --quantize is refused", async () => {
  const reference = join(ROOT, 'test', 'fixtures', 'models', 'llama3-fp8-channel');
  const expected = new SafetensorsFile(join(reference, 'expected.safetensors'));
  const ids = Array.from(expected.read('ids.2').data, Number);
  const out = join(tmp, 'fp8.safetensors');
  const args = ['forward', '--model', MODEL, '--ids', ids.join(','), '--out', out, '--backend', 'wasm'];
  assertExit(analyze(...args, '--quantize', 'fp8'), 0);
  const got = new SafetensorsFile(out).read('logits').data;
  const want = expected.read('logits.2').data;
  assert.ok(got.every((x, i) => Math.abs(x - want[i]) < 1e-4));
  assertExit(
    await refused(...args, '--quantize', 'fp8', '--dtype', 'bf16'),
    2,
    /--dtype bf16 and --quantize fp8: give one of them/,
  );
  assertExit(await refused(...args, '--dtype', 'f8'), 2, /--dtype: expected one of auto, f32, bf16, f16, found "f8"/);
});

test('bad usage and bad input exit 2 with a clear message', async () => {
  const both = await refused('generate', '--model', MODEL, '--ids', '1,2', '--prompt', 'x');
  assertExit(both, 2, /give exactly one of --prompt, --ids/);
  const badIds = await refused('forward', '--model', MODEL, '--ids', '1,x', '--out', join(tmp, 'x.safetensors'));
  assertExit(badIds, 2, /--ids: expected comma-separated non-negative integers/);
  const noModel = await refused(
    'forward',
    '--model',
    join(tmp, 'nowhere'),
    '--ids',
    '1',
    '--out',
    join(tmp, 'y.safetensors'),
  );
  assertExit(noModel, 2, /nowhere: no config\.json/);
  const node = analyze(
    'forward',
    '--model',
    MODEL,
    '--ids',
    '1',
    '--out',
    join(tmp, 'z.safetensors'),
    '--backend',
    'node',
  );
  assertExit(node, 2, /--backend node: @tensorflow\/tfjs-node is not loadable/);
});

test('unsupported architectures and options are refused, naming the field', () => {
  const dir = join(tmp, 'odd');
  cpSync(MODEL, dir, { recursive: true });
  const cfgPath = join(dir, 'config.json');
  const base = JSON.parse(readFileSync(cfgPath, 'utf8'));
  const variants: [Record<string, unknown>, RegExp][] = [
    [{ architectures: ['MistralForCausalLM'] }, /unsupported architecture MistralForCausalLM/],
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, /unsupported option rope type "yarn"/],
    [{ hidden_act: 'relu' }, /unsupported option activation "relu"/],
    [{ pretraining_tp: 2 }, /unsupported option pretraining_tp=2/],
    [{ hidden_size: 'big' }, /field hidden_size must be a number/],
  ];
  for (const [change, message] of variants) {
    writeFileSync(cfgPath, JSON.stringify({ ...base, ...change }));
    assert.throws(() => loadModelConfig(dir), message);
  }
});

test('a model too large for one WASM heap is refused with the backend that would run it', () => {
  const dir = join(tmp, 'huge');
  cpSync(MODEL, dir, { recursive: true });
  // Llama-3.1-8B's shape: 32 layers, d 4096, 14336 intermediate, 128256 vocab.
  const cfg = {
    ...JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8')),
    hidden_size: 4096,
    intermediate_size: 14336,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 128,
    vocab_size: 128256,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  assert.ok(backendWeightBytes(loadModelConfig(dir)) > 28e9);
  const r = analyze('forward', '--model', dir, '--ids', '1', '--out', join(tmp, 'h.safetensors'), '--backend', 'wasm');
  assertExit(r, 2, /needs \d+\.\d GiB of f32 weights, more than one WASM instance holds .*--backend node/);
});
