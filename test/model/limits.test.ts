// Limits on untrusted models, SAEs and templates: chat templates that would loop or grow without end,
// sequences past max_position_embeddings, NaN/Inf weights — each an InputError naming the file, tensor or
// sample, raised quickly and before any work.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { capture } from '../../lib/capture/capture.ts';
import { InputError } from '../../lib/errors.ts';
import { SafetensorsFile, writeSafetensors, type F32Tensor } from '../../lib/io/safetensors.ts';
import { renderChat } from '../../lib/model/chat.ts';
import { generate } from '../../lib/model/generate.ts';
import { residPost } from '../../lib/model/hooks.ts';
import { loadModel } from '../../lib/model/load.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { localExecutor } from '../../lib/parallel/pool.ts';
import { loadSae } from '../../lib/sae/index.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures');
const MODEL = join(FIX, 'models', 'llama3-gqa');
const tmp = mkdtempSync(join(tmpdir(), 'limits-'));
const inputError = (pattern: RegExp) => (e: Error) => e instanceof InputError && pattern.test(e.message);

const source = (chatTemplate: string) => ({
  chatTemplate,
  specialTokens: { eos_token: '<|eot_id|>' },
  chatTemplateFile: '/m/chat_template.jinja',
});
const hi = [{ role: 'user', content: 'hi' }];

test('chat templates: range() capped, nested loops and runaway strings stopped, broken templates name their file', () => {
  const cases: [string, RegExp][] = [
    [
      '{% for i in range(100000000) %}x{% endfor %}',
      /\/m\/chat_template\.jinja: chat template over the rendering limits: range\(\) of 100000000 items/,
    ],
    [
      '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}',
      /over the rendering limits: range\(\) of 100000 items goes past 100000/,
    ],
    [
      '{% set s = namespace(v="x") %}{% for i in range(40) %}{% set s.v = s.v + s.v %}{% endfor %}{{ s.v }}',
      /rendering made a string of more than 16777216 characters/,
    ],
    [
      // a list doubled through namespace 40 times (2^40 items: V8 aborted at 1.7 GB)
      '{% set s = namespace(v=[1]) %}{% for i in range(40) %}{% set s.v = s.v + s.v %}{% endfor %}{{ s.v|length }}',
      /rendering made (a list of more than 1048576 items|more than 4194304 list items in all)/,
    ],
    [
      // 2,000 strings of 8 M characters each (each under the one-string limit; V8 aborted at 4.4 GB)
      '{% set ns = namespace(big="x", keep=[]) %}{% for i in range(23) %}{% set ns.big = ns.big + ns.big %}{% endfor %}' +
        '{% for i in range(2000) %}{% set ns.keep = ns.keep + [ns.big ~ i] %}{% endfor %}{{ ns.keep|length }}',
      /rendering made more than 67108864 characters of strings in all/,
    ],
    ['{% for m in messages %', /\/m\/chat_template\.jinja: chat template does not parse/],
  ];
  for (const [template, pattern] of cases)
    assert.throws(() => renderChat(source(template), hi), inputError(pattern), template);
  assert.equal(
    renderChat(
      source(
        '{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}',
      ),
      hi,
    ),
    '[user] hi012',
  );
});

test('special tokens typed into a message: one warning naming the token', (t) => {
  const errors = t.mock.method(console, 'error', () => {});
  renderChat(source('{{ messages[0].content }}'), [{ role: 'user', content: 'stop here <|eot_id|> please' }]);
  renderChat(source('{{ messages[0].content }}'), [{ role: 'user', content: 'again <|eot_id|>' }]);
  const warnings = errors.mock.calls.map((c) => String(c.arguments[0])).filter((m) => m.includes('special token'));
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /a user message contains the special token "<\|eot_id\|>"; it is encoded as that special token/,
  );
});

test('sequence length: generation and capture past max_position_embeddings are refused up front', async () => {
  const backend = await openBackend('cpu', () => {});
  const model = await loadModel(MODEL, backend);
  assert.equal(model.config.maxPositions, 256);
  await assert.rejects(
    generate(model, [[1, 2, 3], Array(250).fill(5)], {
      maxNewTokens: 10,
      temperature: 0,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1,
    }),
    inputError(/prompt 1: 250 tokens \+ 10 new tokens is past the model's max_position_embeddings \(256\)/),
  );
  const cache = model.newCache(1, 256);
  await assert.rejects(
    model.forward([Array(300).fill(5)], cache),
    inputError(/reaches 300 tokens, past the model's max_position_embeddings \(256\)/),
  );
  cache.dispose();
  const tokenizer = loadTokenizer(MODEL);
  const long = {
    id: 'long-one',
    condition: 'on_topic',
    prompt_id: 'p',
    response_id: null,
    messages: [
      { role: 'user', content: 'Explain.' },
      { role: 'assistant', content: 'word '.repeat(400) },
    ],
    spans: {},
  };
  const out = join(tmp, 'long.acts');
  await assert.rejects(
    capture(
      {
        tokenizer,
        config: model.config,
        executor: localExecutor({ model, sae: loadSae(join(FIX, 'sae', 'saelens_relu')) }),
        hook: residPost(1),
      },
      [long as never],
      out,
      {} as never,
      { settings: {} },
    ),
    inputError(/sample long-one: \d+ tokens, past the model's max_position_embeddings \(256\)/),
  );
  assert.deepEqual(
    readdirSync(tmp).filter((f) => f === 'long.acts'),
    [],
    'nothing written',
  );
});

/** A copy of a safetensors file with `edit` applied to tensor `name` (written as f32). */
function poisoned(src: string, dst: string, name: string, edit: (t: F32Tensor) => void): void {
  const f = new SafetensorsFile(src);
  const tensors: Record<string, F32Tensor> = {};
  for (const n of f.names()) tensors[n] = f.read(n);
  f.close();
  edit(tensors[name]);
  writeSafetensors(dst, tensors);
}

test('NaN/Inf weights: SAE tensors and model weights are refused on load, naming the tensor', async () => {
  const backend = await openBackend('cpu', () => {});
  const sae = (name: string, tensor: string, edit: (t: F32Tensor) => void) => {
    const dir = join(tmp, name);
    cpSync(join(FIX, 'sae', 'saelens_relu'), dir, { recursive: true });
    poisoned(
      join(FIX, 'sae', 'saelens_relu', 'sae_weights.safetensors'),
      join(dir, 'sae_weights.safetensors'),
      tensor,
      edit,
    );
    return dir;
  };
  // a NaN encoder column (latent 7): every row of W_enc [64, 256] at column 7
  const nanColumn = sae('nan-col', 'W_enc', (t) => {
    for (let r = 0; r < 64; r++) t.data[r * 256 + 7] = Number.NaN;
  });
  assert.throws(
    () => loadSae(nanColumn),
    inputError(
      /sae_weights\.safetensors: tensor W_enc: NaN at element 7 \(storage order, shape \[64,256\]\); SAE weights must be finite/,
    ),
  );
  const infBias = sae('inf-bdec', 'b_dec', (t) => {
    t.data[3] = Number.POSITIVE_INFINITY;
  });
  assert.throws(() => loadSae(infBias), inputError(/tensor b_dec: Inf at element 3/));

  const model = join(tmp, 'nan-model');
  cpSync(MODEL, model, { recursive: true });
  const index = JSON.parse(readFileSync(join(model, 'model.safetensors.index.json'), 'utf8'));
  const name = 'model.layers.1.mlp.down_proj.weight';
  const shard = index.weight_map[name];
  poisoned(join(MODEL, shard), join(model, shard), name, (t) => {
    t.data[5] = -Infinity;
  });
  await assert.rejects(
    loadModel(model, backend),
    inputError(/tensor model\.layers\.1\.mlp\.down_proj\.weight: -Inf at element 5; model weights must be finite/),
  );
});
