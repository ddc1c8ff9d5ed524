// Activation store: reading a pyarrow-written store, and our streaming, resumable writer.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tableFromIPC } from 'apache-arrow';
import { poolStore } from '../../lib/stats/poolStore.ts';
import type { PooledCodes } from '../../lib/stats/sparse.ts';
import { openStore } from '../../lib/store/reader.ts';
import { ActsWriter } from '../../lib/store/writer.ts';

const fixtures = fileURLToPath(new URL('../fixtures/stats/', import.meta.url));

function dense(p: PooledCodes, r: number): number[] {
  const row = new Array(p.dSae).fill(0);
  for (let k = p.indptr[r]; k < p.indptr[r + 1]; k++) row[p.latents[k]] = p.values[k];
  return row;
}

test('store: a pyarrow-written store pools (max, mean, whole sequence) as numpy computes', async () => {
  const expected = JSON.parse(readFileSync(join(fixtures, 'py_store_pooled.json'), 'utf8'));
  const store = openStore(join(fixtures, 'py.acts'));
  assert.equal(store.samples.n, 8);
  for (const [mode, span, key] of [
    ['max', 'response', 'max'],
    ['mean', 'response', 'mean'],
    ['max', 'all', 'max_all'],
  ] as const) {
    const { codes } = await poolStore(store, span, mode);
    expected[key].forEach((row: number[], r: number) => {
      dense(codes, r).forEach((v, l) =>
        assert.ok(
          Math.abs(v - row[l]) <= 1e-6 * Math.max(1, Math.abs(row[l])),
          `${key} sample ${r} latent ${l}: ${v} vs ${row[l]}`,
        ),
      );
    });
  }
});

test('store: writer resumes after a kill, then finalises into the documented columns', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'acts-')), 'x.acts');
  const sample = (i: number) => ({
    id: `s${i}`,
    condition: i % 2 ? 'off_topic' : 'on_topic',
    prompt_id: `p${i}`,
    response_id: null,
    n_tokens: 4,
    span_start: 1,
    span_end: 4,
    spans: { correction: i === 0 ? null : ([2, 3] as [number, number]) },
  });
  const rows = (k: number) => ({
    sample: new Int32Array([0, 0, k - 1]),
    token: new Int32Array([1, 2, 3]),
    latent: new Int32Array([5, 5, 7]),
    value: new Float32Array([1, 3, 2]),
  });
  const w1 = new ActsWriter(dir, ['correction']);
  w1.append([sample(0), sample(1)], rows(2));
  // a kill after the codes part but before its samples part: that part is not committed
  writeFileSync(join(dir, 'parts', '000001.codes.arrow'), 'partial');
  writeFileSync(join(dir, 'parts', '.000001.samples.arrow.4194304.0123abcd.esr-tmp'), 'partial'); // pid 2^22: no process
  const w2 = new ActsWriter(dir, ['correction']);
  assert.ok(w2.has('s0') && w2.has('s1') && !w2.has('s2'));
  assert.deepEqual(readdirSync(join(dir, 'parts')).sort(), ['000000.codes.arrow', '000000.samples.arrow']);
  assert.throws(() => w2.append([sample(1)], rows(1)), /already written/);
  w2.append([sample(2), sample(3), sample(4)], rows(3));
  assert.throws(() => openStore(dir), /not been finalised/);
  await w2.finalize({ model: 'toy', sae: 'toy', layer: 3, d_sae: 10 });
  assert.ok(!existsSync(join(dir, 'parts')));
  const codes = tableFromIPC(readFileSync(join(dir, 'codes.arrow')));
  assert.deepEqual(
    codes.schema.fields.map((f) => `${f.name}:${f.type}`),
    ['sample:Int32', 'token:Int32', 'latent:Int32', 'value:Float32'],
  );
  assert.deepEqual([...codes.getChild('sample')!], [0, 0, 1, 2, 2, 4]);
  const samples = tableFromIPC(readFileSync(join(dir, 'samples.arrow')));
  assert.deepEqual(
    samples.schema.fields.map((f) => f.name),
    [
      'sample',
      'id',
      'condition',
      'prompt_id',
      'response_id',
      'n_tokens',
      'span_start',
      'span_end',
      'correction_start',
      'correction_end',
    ],
  );
  assert.deepEqual([...samples.getChild('correction_start')!], [null, 2, 2, 2, 2]);
  const store = openStore(dir);
  const { codes: pooled, hasSpan } = await poolStore(store, 'response', 'max');
  assert.deepEqual(dense(pooled, 0).slice(5, 8), [3, 0, 0]);
  assert.deepEqual(dense(pooled, 1).slice(5, 8), [0, 0, 2]);
  assert.deepEqual(dense(pooled, 4).slice(5, 8), [0, 0, 2]);
  const { codes: corr, hasSpan: hasCorr } = await poolStore(store, 'correction', 'mean');
  assert.deepEqual([...hasSpan], [1, 1, 1, 1, 1]);
  assert.deepEqual([...hasCorr], [0, 1, 1, 1, 1]);
  assert.deepEqual(dense(corr, 2).slice(5, 8), [3, 0, 0]);
});
