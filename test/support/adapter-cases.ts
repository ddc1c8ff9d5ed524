// LoRA adapters (lib/model/adapter.ts) against peft + transformers, as cases any backend's test file registers:
// the fixture models with a PEFT adapter give peft's logits and every resid_post. References come from
// test/fixtures/adapters/make_adapters.py.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { loadModel } from '../../lib/model/load.ts';
import type { Model } from '../../lib/model/transformer.ts';
import { type CaseOptions, caseBackend, MODEL_FIXTURES, maxAbsDiff } from './model-cases.ts';

export const ADAPTER_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'adapters');
/** Adapter fixture → the base model fixture it was trained on. */
export const ADAPTER_CASES: Record<string, string> = {
  'llama3-gqa-all': 'llama3-gqa',
  'llama-tied-rslora': 'llama-tied-bf16',
  'gemma2-all-linear': 'gemma2-f16',
};
const TOL = 1e-4;

/** Logits [T, vocab] and every resid_post [T, d] of one unbatched forward pass. */
export async function forwardAll(model: Model, ids: number[]) {
  const layers = Array.from({ length: model.config.numLayers }, (_, i) => i);
  const cache = model.newCache(1, ids.length);
  const names = layers.map((l) => `resid_post.${l}`);
  const out = await model.forward([ids], cache, { read: names });
  const logits = (await out.logits!.data()) as Float32Array;
  const resid = await Promise.all(names.map(async (n) => (await out.acts.get(n)!.data()) as Float32Array));
  out.logits!.dispose();
  out.acts.forEach((r) => r.dispose());
  cache.dispose();
  return { logits, resid };
}

export function registerAdapterCases(o: CaseOptions): void {
  for (const [name, base] of Object.entries(ADAPTER_CASES)) {
    test(`${o.prefix ?? ''}${name}: --adapter gives peft's logits and every resid_post (and the adapter changes them)`, {
      skip: o.skip,
    }, async () => {
      const expected = new SafetensorsFile(join(ADAPTER_FIXTURES, name, 'expected.safetensors'));
      const backend = caseBackend(o);
      const model = await loadModel(join(MODEL_FIXTURES, base), backend, { adapter: join(ADAPTER_FIXTURES, name) });
      const plain = await loadModel(join(MODEL_FIXTURES, base), backend);
      for (const s of [0, 1, 2]) {
        const ids = Array.from(expected.read(`ids.${s}`).data, Number);
        const got = await forwardAll(model, ids);
        const want = expected.read(`logits.${s}`).data;
        const diff = maxAbsDiff(got.logits, want);
        assert.ok(diff < TOL, `logits seq ${s}: max |Δ| ${diff}`);
        got.resid.forEach((r, l) => {
          const d = maxAbsDiff(r, expected.read(`resid_post.${l}.${s}`).data);
          assert.ok(d < TOL, `resid_post.${l} seq ${s}: max |Δ| ${d}`);
        });
        // the base model alone is far from peft's adapted one: the comparison above can fail
        assert.ok(maxAbsDiff((await forwardAll(plain, ids)).logits, want) > 1e-2, `seq ${s}: adapter has no effect`);
      }
      model.dispose();
      plain.dispose();
      expected.close();
    });
  }
}
