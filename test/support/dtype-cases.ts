// Weight dtypes against transformers, as cases any backend's test file registers: compressed-tensors FP8
// checkpoints (per-channel f32 scales; per-tensor bf16 scales with an ignore list) and `--quantize fp8` on
// load, against transformers in f32 on the dequantized weights (fp8 · scale); bf16 resident weights against
// transformers' f32 upcast of the same values, at half the bytes. References: test/fixtures/models/make_fp8.py
// and make_models.py.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { type LoadOptions, loadModel } from '../../lib/model/load.ts';
import { type CaseOptions, caseBackend, MODEL_FIXTURES, maxAbsDiff } from './model-cases.ts';

const TOL = 1e-4;

/** Max |Δ| of the logits of the fixture's three sequences, packed in one step, against a reference directory's. */
async function logitsDiff(o: CaseOptions, dir: string, load: LoadOptions, referenceDir = dir) {
  const model = await loadModel(join(MODEL_FIXTURES, dir), caseBackend(o), load);
  const expected = new SafetensorsFile(join(MODEL_FIXTURES, referenceDir, 'expected.safetensors'));
  const seqs = [0, 1, 2].map((s) => Array.from(expected.read(`ids.${s}`).data, Number));
  const cache = model.newCache(seqs.length, Math.max(...seqs.map((s) => s.length)));
  const out = await model.forward(seqs, cache);
  const logits = (await out.logits!.data()) as Float32Array;
  out.logits!.dispose();
  cache.dispose();
  const V = model.config.vocabSize;
  let first = 0;
  const diffs = seqs.map((seq, s) => {
    const d = maxAbsDiff(logits.subarray(first * V, (first + seq.length) * V), expected.read(`logits.${s}`).data);
    first += seq.length;
    return d;
  });
  const result = { diff: Math.max(...diffs), dtype: model.dtype, weightBytes: model.weightBytes };
  model.dispose();
  return result;
}

export function registerDtypeCases(o: CaseOptions = {}): void {
  const prefix = o.prefix ?? '';
  const t = (title: string, fn: () => Promise<void>) => test(`${prefix}${title}`, { skip: o.skip }, fn);

  t('FP8 checkpoints (per-channel and per-tensor scales, ignored modules) give the dequantized reference', async () => {
    for (const dir of ['llama3-fp8-channel', 'gemma2-fp8-tensor']) {
      const r = await logitsDiff(o, dir, {});
      assert.ok(r.diff < TOL, `${dir}: max |Δlogit| ${r.diff}`);
    }
  });

  t('--quantize fp8 on load gives what torch makes of the same weights (per-output-channel absmax e4m3)', async () => {
    const r = await logitsDiff(o, 'llama3-gqa', { quantize: 'fp8' }, 'llama3-fp8-channel');
    assert.ok(r.diff < TOL, `max |Δlogit| ${r.diff}`);
    // and it is not the unquantized model: the reference moved by ~0.36
    const plain = await logitsDiff(o, 'llama3-gqa', {}, 'llama3-fp8-channel');
    assert.ok(plain.diff > 0.01, `unquantized max |Δlogit| ${plain.diff}`);
  });

  t('--dtype bf16: a bf16 checkpoint held in bf16 gives transformers f32-upcast logits', async () => {
    const r = await logitsDiff(o, 'llama-tied-bf16', { dtype: 'bf16' });
    assert.ok(r.diff < TOL, `max |Δlogit| ${r.diff}`);
  });
}
