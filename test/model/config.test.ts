// A checkpoint whose config.json or tensors do not describe one runnable model is refused before any
// weight is read (exit 2 naming the file and field): negative eps, head counts that do not divide,
// fewer layers than the weights hold, integer weight tensors, token ids past the embedding table.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { InputError } from '../../lib/errors.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { loadModel } from '../../lib/model/load.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { assertExit, runCli } from '../support/cli.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MODEL = join(ROOT, 'test', 'fixtures', 'models', 'llama3-gqa');
const tmp = mkdtempSync(join(tmpdir(), 'model-config-'));
const inputError = (pattern: RegExp) => (e: Error) => e instanceof InputError && pattern.test(e.message);

let copies = 0;
/** A copy of the fixture model with config.json fields replaced. */
function modelWith(change: Record<string, unknown>, raw = ''): string {
  const dir = join(tmp, `m${copies++}`);
  cpSync(MODEL, dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  // `raw`: fields spliced in as JSON text (numbers JSON.stringify cannot write, such as 1e999)
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, ...change }).replace(/}$/, `${raw}}`));
  return dir;
}

test('config fields that cannot describe a model are refused, naming the field', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ rms_norm_eps: -1 }, /field rms_norm_eps must be a positive number, found -1/],
    [{ rms_norm_eps: 0 }, /field rms_norm_eps must be a positive number, found 0/],
    [{ num_hidden_layers: 0 }, /field num_hidden_layers must be a positive integer, found 0/],
    [{ num_hidden_layers: 2.5 }, /field num_hidden_layers must be a positive integer, found 2\.5/],
    [{ hidden_size: -64 }, /field hidden_size must be a positive integer/],
    [{ num_key_value_heads: 3 }, /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/],
    [{ max_position_embeddings: 0 }, /field max_position_embeddings must be a positive integer/],
    [{ rope_theta: -5, rope_scaling: null }, /rope field rope_theta must be a positive number, found -5/],
    [
      {
        rope_scaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 4,
          high_freq_factor: 4,
          original_max_position_embeddings: 32,
        },
      },
      /high_freq_factor \(4\) must exceed low_freq_factor \(4\)/,
    ],
  ];
  for (const [change, pattern] of cases) {
    const dir = modelWith(change);
    assert.throws(() => loadModelConfig(dir), inputError(pattern), JSON.stringify(change));
  }
  // 1e999 parses to Infinity: named as such, not as JSON's "null"
  assert.throws(
    () => loadModelConfig(modelWith({}, ', "vocab_size": 1e999')),
    inputError(/field vocab_size must be a number, found Infinity/),
  );
  assert.equal(loadModelConfig(MODEL).rmsNormEps, 1e-5);
});

test('a checkpoint with tensors the config does not use is refused before loading (fewer layers, extra tensors)', async () => {
  const backend = await openBackend('cpu', () => {});
  await assert.rejects(
    loadModel(modelWith({ num_hidden_layers: 2 }), backend),
    inputError(
      /9 tensors in the checkpoint that config\.json's model does not use \(model\.layers\.2\.[a-z_.]+, .*\): does num_hidden_layers \(2\)/,
    ),
  );
  // an extra tensor in the index (pointing at an existing shard) is as unexpected
  const dir = modelWith({});
  const indexPath = join(dir, 'model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8'));
  index.weight_map['model.layers.0.self_attn.q_norm.weight'] = index.weight_map['model.norm.weight'];
  writeFileSync(indexPath, JSON.stringify(index));
  await assert.rejects(
    loadModel(dir, backend),
    inputError(/1 tensor in the checkpoint .*model\.layers\.0\.self_attn\.q_norm\.weight/),
  );
  const ok = await loadModel(MODEL, backend);
  assert.equal(ok.config.numLayers, 3);
});

test('an integer weight tensor is refused as bad input (exit 2), naming file and tensor', () => {
  const dir = modelWith({});
  const shard = join(dir, 'model-00005-of-00005.safetensors');
  const bytes = readFileSync(shard);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  const header = bytes.subarray(8, headerEnd).toString('utf8');
  assert.ok(header.includes('"F32"'));
  // same byte length: I32 and F32 are both 4 bytes wide
  Buffer.from(header.replaceAll('"F32"', '"I32"'), 'utf8').copy(bytes, 8);
  writeFileSync(shard, bytes);
  const r = runCli(['forward', '--model', dir, '--ids', '1,2', '--out', join(tmp, 'i32.safetensors')]);
  assertExit(r, 2, /model-00005-of-00005\.safetensors: tensor [a-z_.0-9]+: dtype I32 is not a floating type/);
});

test('token ids outside the model vocabulary: the tokenizer is refused naming tokenizer.json, --ids naming the flag', () => {
  const dir = modelWith({});
  const tokPath = join(dir, 'tokenizer.json');
  const tok = JSON.parse(readFileSync(tokPath, 'utf8'));
  tok.added_tokens.push({
    id: 600,
    content: '<|extra|>',
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  writeFileSync(tokPath, JSON.stringify(tok));
  assert.throws(
    () => loadTokenizer(dir),
    inputError(
      /tokenizer\.json: token "<\|extra\|>" has id 600, outside the model's vocabulary \(.*config\.json: vocab_size 512\)/,
    ),
  );
  const r = runCli(['forward', '--model', MODEL, '--ids', '1,512', '--out', join(tmp, 'ids.safetensors')]);
  assertExit(r, 2, /--ids: token id 512 is outside the model's vocabulary \(0\.\.511\)/);
  assert.equal(loadTokenizer(MODEL).vocabSize, 512);
});
