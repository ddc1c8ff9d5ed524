// Capture against torch: codes in the activation store equal transformers + torch SAE codes at every
// token (test/fixtures/capture/make_capture.py), spans map through offsets, a killed capture resumes, and a batch
// whose codes are not finite stops the capture.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../lib/backend.ts';
import { capture, type CaptureSetup, planBatches, prepareSample } from '../../lib/capture/capture.ts';
import { InputError } from '../../lib/errors.ts';
import { readSamples } from '../../lib/capture/samples.ts';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { residPost } from '../../lib/model/hooks.ts';
import { loadModel } from '../../lib/model/load.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { type Executor, localExecutor, workerPool } from '../../lib/parallel/pool.ts';
import type { Task } from '../../lib/parallel/tasks.ts';
import { loadSae } from '../../lib/sae/index.ts';
import { openStore } from '../../lib/store/reader.ts';
import type { CodeRows } from '../../lib/store/schema.ts';

const backend = await openBackend('wasm', () => {});
const FIX = join(import.meta.dirname, '..', 'fixtures');
const MODEL = join(FIX, 'models', 'llama3-gqa');
const expected = new SafetensorsFile(join(FIX, 'capture', 'expected.safetensors'));
const samples = readSamples(join(FIX, 'capture', 'samples.jsonl'));
const SAE = join(FIX, 'sae', 'saelens_relu');
const cm: CaptureSetup = {
  tokenizer: loadTokenizer(MODEL),
  executor: localExecutor({ model: await loadModel(MODEL, backend), sae: loadSae(SAE) }),
  hook: residPost(1),
};
const settings = { hook: 'blocks.1.hook_resid_post', batch: 2 };
const tmp = mkdtempSync(join(tmpdir(), 'capture-'));

/** The store as dense codes per sample id, plus its sample rows. */
async function readBack(dir: string) {
  const store = openStore(dir);
  const dense = new Map<string, Float32Array>();
  store.samples.id.forEach((id, r) => dense.set(id, new Float32Array(store.samples.n_tokens[r] * store.meta.d_sae)));
  for await (const b of store.codeBatches()) {
    for (let i = 0; i < b.row.length; i++)
      dense.get(store.samples.id[b.row[i]])![b.token[i] * store.meta.d_sae + b.latent[i]] = b.value[i];
  }
  return { store, dense };
}

test('captured codes equal torch codes at every token; spans located through offsets', async () => {
  const dir = join(tmp, 'a.acts');
  await capture(
    cm,
    samples,
    dir,
    { model: MODEL, sae: 'saelens_relu', layer: 1, d_sae: 256 },
    { batchSize: 2, settings },
  );
  const { store, dense } = await readBack(dir);
  assert.equal(store.samples.n, samples.length);
  for (const s of samples) {
    const r = store.samples.id.indexOf(s.id);
    const want = expected.read(`${s.id}.codes`).data;
    const got = dense.get(s.id)!;
    assert.equal(got.length, want.length, `${s.id} tokens`);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
    assert.ok(diff < 1e-4, `${s.id}: max |Δcode| ${diff}`);
    assert.deepEqual(
      [store.samples.spans.response.start[r], store.samples.spans.response.end[r]],
      Array.from(expected.read(`${s.id}.response`).data),
    );
    assert.equal(store.samples.condition[r], s.condition);
  }
  const r2 = store.samples.id.indexOf('s2');
  for (const name of ['off_topic', 'correction', 'on_topic']) {
    assert.deepEqual(
      [store.samples.spans[name].start[r2], store.samples.spans[name].end[r2]],
      Array.from(expected.read(`s2.span.${name}`).data),
      name,
    );
  }
  assert.equal(store.samples.spans.off_topic.start[store.samples.id.indexOf('s0')], -1, 'missing region');
});

test('a capture killed after a committed batch resumes without redoing it, with the same result', async () => {
  const whole = join(tmp, 'whole.acts'),
    killed = join(tmp, 'killed.acts');
  const meta = { model: MODEL, sae: 'saelens_relu', layer: 1, d_sae: 256 };
  await capture(cm, samples, whole, meta, { batchSize: 2, settings });
  await assert.rejects(
    capture(cm, samples, killed, meta, {
      batchSize: 2,
      settings,
      onBatch: () => {
        throw new Error('killed');
      },
    }),
    /killed/,
  );
  const batches: number[] = [];
  const resumed = await capture(cm, samples, killed, meta, {
    batchSize: 2,
    settings,
    onBatch: (done) => batches.push(done),
  });
  assert.equal(resumed.resumed, 2, 'the first batch (2 samples) was kept');
  assert.deepEqual(batches, [2, 3], 'only the remaining batches ran');
  const a = await readBack(whole),
    b = await readBack(killed);
  for (const s of samples) assert.deepEqual(b.dense.get(s.id), a.dense.get(s.id), s.id);
  const again = await capture(cm, samples, killed, meta, { batchSize: 2, settings });
  assert.equal(again.captured, 0, 'a complete store is left as it is');
  await assert.rejects(
    capture(cm, samples, killed, meta, { batchSize: 2, settings: { ...settings, hook: 'blocks.2.hook_resid_post' } }),
    /other settings/,
  );
});

test('worker threads write the same store as the main thread', async () => {
  const meta = { model: MODEL, sae: 'saelens_relu', layer: 1, d_sae: 256 };
  const local = join(tmp, 'local.acts'),
    pooled = join(tmp, 'pooled.acts');
  await capture(cm, samples, local, meta, { batchSize: 2, settings });
  const executor = await workerPool({ model: MODEL, sae: SAE, backend: { choice: 'wasm' } }, 2);
  try {
    await capture({ ...cm, executor }, samples, pooled, meta, { batchSize: 2, settings });
  } finally {
    await executor.close();
  }
  for (const f of ['codes.arrow', 'samples.arrow'])
    assert.deepEqual(readFileSync(join(pooled, f)), readFileSync(join(local, f)), f);
});

test('a batch whose SAE codes are not finite stops the capture naming its sample; the batches before it are kept', async () => {
  const dir = join(tmp, 'nonfinite.acts');
  const meta = { model: MODEL, sae: 'saelens_relu', layer: 1, d_sae: 256 };
  // the second batch's first code row turns NaN, as an overflowed residual stream would make it
  let batch = 0;
  const poisoned: Executor = {
    ...cm.executor,
    run: (async (task: Task) => {
      const codes = (await cm.executor.run(task)) as CodeRows;
      if (++batch === 2) codes.value[0] = Number.NaN;
      return codes;
    }) as Executor['run'],
  };
  const planned = planBatches(
    samples.map((s) => prepareSample(cm.tokenizer, s)),
    2,
  );
  const victim = planned[1].map((p) => p.sample.id);
  await assert.rejects(
    capture({ ...cm, executor: poisoned }, samples, dir, meta, { batchSize: 2, settings }),
    (e: Error) =>
      !(e instanceof InputError) &&
      new RegExp(
        `^sample (${victim.join('|')}): a non-finite SAE code \\(NaN or Inf\\) at blocks\\.1\\.hook_resid_post`,
      ).test(e.message),
  );
  const resumed = await capture(cm, samples, dir, meta, { batchSize: 2, settings });
  assert.equal(resumed.resumed, 2, 'the first batch was stored, nothing of the poisoned one');
});
