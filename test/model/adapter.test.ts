// LoRA adapters on the WASM backend: peft's outputs (test/support/adapter-cases.ts; test/webgpu.test.ts runs
// the same cases on WebGPU), refusals of what is not plain LoRA, and the merged checkpoint against the
// weights of peft's merge_and_unload (test/fixtures/adapters/make_adapters.py).
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { InputError } from '../../lib/errors.ts';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { loadModel } from '../../lib/model/load.ts';
import { mergeAdapter } from '../../lib/model/mergeAdapter.ts';
import { ADAPTER_CASES, ADAPTER_FIXTURES, forwardAll, registerAdapterCases } from '../support/adapter-cases.ts';
import { MODEL_FIXTURES, maxAbsDiff } from '../support/model-cases.ts';

const backend = await openBackend('wasm', () => {});
registerAdapterCases({ backend });

const tmp = () => mkdtempSync(join(tmpdir(), 'esr-adapter-'));
const base = (name: string) => join(MODEL_FIXTURES, ADAPTER_CASES[name] ?? name);

/** A copy of an adapter fixture with its config edited. */
function editedAdapter(name: string, edit: (cfg: Record<string, unknown>) => void): string {
  const dir = join(tmp(), name);
  cpSync(join(ADAPTER_FIXTURES, name), dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  edit(cfg);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(cfg));
  return dir;
}

async function refused(model: string, adapter: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadModel(model, backend, { adapter }), (err: Error) => {
    assert.ok(err instanceof InputError, `${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('DoRA, a bias on lora_B and other variants are refused, naming the field', async () => {
  await refused(base('llama3-gqa'), join(ADAPTER_FIXTURES, 'refused', 'dora'), /use_dora=true is not supported \(DoRA/);
  await refused(base('llama3-gqa'), join(ADAPTER_FIXTURES, 'refused', 'lora-bias'), /lora_bias=true is not supported/);
  const pissa = editedAdapter('llama3-gqa-all', (c) => (c.init_lora_weights = 'pissa'));
  await refused(base('llama3-gqa'), pissa, /init_lora_weights="pissa".*changes the base weights/);
  const ia3 = editedAdapter('llama3-gqa-all', (c) => (c.peft_type = 'IA3'));
  await refused(base('llama3-gqa'), ia3, /peft_type "IA3" is not supported/);
  // a DoRA file whose config was edited to say plain LoRA: the magnitude tensor still gives it away
  const doraFile = editedAdapter('llama3-gqa-all', () => {});
  cpSync(
    join(ADAPTER_FIXTURES, 'refused', 'dora', 'adapter_model.safetensors'),
    join(doraFile, 'adapter_model.safetensors'),
  );
  await refused(base('llama3-gqa'), doraFile, /lora_magnitude_vector is not a plain LoRA tensor/);
});

test('an adapter for another model, a missing directory, a tied lm_head and a config at odds with the tensors are refused', async () => {
  // gemma2-all-linear has 4 layers with the same shapes as llama3-gqa's 3: layer 3 has no tensor
  await refused(base('llama3-gqa'), join(ADAPTER_FIXTURES, 'gemma2-all-linear'), /no tensor for model\.layers\.3\./);
  await refused(base('llama3-gqa'), join(tmp(), 'nothing'), /no adapter_config\.json/);
  await refused(
    base('llama-tied-bf16'),
    join(ADAPTER_FIXTURES, 'llama3-gqa-all'),
    /ties its input and output embeddings/,
  );
  const narrowed = editedAdapter('llama3-gqa-all', (c) => (c.target_modules = ['q_proj']));
  await refused(base('llama3-gqa'), narrowed, /is not in target_modules/);
  const rank = editedAdapter('llama3-gqa-all', (c) => (c.rank_pattern = {}));
  await refused(base('llama3-gqa'), rank, /down_proj has rank 2, the config says 4/);
});

test('scaling: rsLoRA is alpha/√r, plain LoRA alpha/r (the rsLoRA adapter read as plain LoRA with alpha·√r agrees)', async () => {
  const name = 'llama-tied-rslora';
  const plain = editedAdapter(name, (c) => {
    c.use_rslora = false;
    c.lora_alpha = 16 * Math.sqrt(8); // alpha/r = 16·√8/8 = 16/√8: the rsLoRA scale
  });
  const expected = new SafetensorsFile(join(ADAPTER_FIXTURES, name, 'expected.safetensors'));
  const ids = Array.from(expected.read('ids.0').data, Number);
  const model = await loadModel(base(name), backend, { adapter: plain });
  assert.ok(maxAbsDiff((await forwardAll(model, ids)).logits, expected.read('logits.0').data) < 1e-4);
  model.dispose();
});

/** The gap between adjacent bf16 or f16 values at |x| (its unit in the last place). */
const ulp = (x: number, dtype: string) => {
  const bits = dtype === 'BF16' ? 7 : 10;
  return 2 ** (Math.floor(Math.log2(Math.max(Math.abs(x), 2 ** -14))) - bits);
};

for (const name of Object.keys(ADAPTER_CASES)) {
  test(`${name}: --merge-adapter writes peft's merge_and_unload weights in the base layout; the rest is byte for byte the base`, async () => {
    const out = join(tmp(), 'merged');
    const result = mergeAdapter(base(name), join(ADAPTER_FIXTURES, name), out);
    const expected = new SafetensorsFile(join(ADAPTER_FIXTURES, name, 'expected.safetensors'));
    const changedByPeft = expected
      .names()
      .filter((n) => n.startsWith('merged.'))
      .map((n) => n.slice('merged.'.length))
      .sort();
    assert.deepEqual(
      result.changed.filter((n) => changedByPeft.includes(n)),
      changedByPeft,
    );
    for (const file of result.files) {
      const ours = new SafetensorsFile(join(out, file));
      const theirs = new SafetensorsFile(join(base(name), file));
      assert.equal(ours.metadata.format, 'pt');
      assert.deepEqual(ours.names().sort(), theirs.names().sort(), file);
      for (const t of ours.names()) {
        assert.equal(ours.info(t).dtype, theirs.info(t).dtype, t);
        if (changedByPeft.includes(t)) {
          const got = ours.read(t).data;
          const want = expected.read(`merged.${t}`).data;
          // peft rounds B·A to a bf16/f16 weight's dtype before adding it, we round the sum once: ≤ 1 ulp apart;
          // in f32 only the summation order of B·A differs
          const dtype = ours.info(t).dtype;
          const tol = (x: number) => (dtype === 'F32' ? 1e-6 : ulp(x, dtype) * 1.001);
          for (let i = 0; i < got.length; i++)
            assert.ok(Math.abs(got[i] - want[i]) <= tol(want[i]), `${t}[${i}]: ${got[i]} vs ${want[i]}`);
        } else if (!result.changed.includes(t)) assert.deepEqual(ours.readBytes(t), theirs.readBytes(t), t);
      }
      ours.close();
      theirs.close();
    }
    for (const f of readdirSync(base(name)).filter((f) => f.endsWith('.json')))
      assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(base(name), f), 'utf8'), f);
    assert.ok(!existsSync(join(out, 'expected.safetensors')), 'only the checkpoint is copied');
    if (name === 'llama3-gqa-all') {
      // an f32 base: the merged checkpoint alone gives peft's logits
      const merged = await loadModel(out, backend);
      const ids = Array.from(expected.read('ids.1').data, Number);
      assert.ok(maxAbsDiff((await forwardAll(merged, ids)).logits, expected.read('logits.1').data) < 1e-4);
      merged.dispose();
    }
    expected.close();
  });
}

test('--merge-adapter refuses to write over the base or the adapter, and writes nothing for a bad adapter', () => {
  assert.throws(
    () => mergeAdapter(base('llama3-gqa'), join(ADAPTER_FIXTURES, 'llama3-gqa-all'), base('llama3-gqa')),
    /is the input directory/,
  );
  const out = join(tmp(), 'never');
  assert.throws(
    () => mergeAdapter(base('llama3-gqa'), join(ADAPTER_FIXTURES, 'gemma2-all-linear'), out),
    /no tensor for/,
  );
  assert.ok(!existsSync(out));
});
