// The WebGPU backend on whatever adapter this machine has — in CI, Mesa's software adapter (llvmpipe through
// OpenGL; ESR_TEST_WEBGPU_ADAPTER picks another): the model, LoRA adapter, SAE and steering cases that the WASM tests run against
// transformers/torch, run once here; tensor splitting past the device's binding limit; the adapter choice;
// the CLI. Without Mesa (npm run setup:system installs it) every case is skipped with the reason.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { type Backend, openBackend, withBindingLimit } from '../lib/backend.ts';
import { SafetensorsFile } from '../lib/io/safetensors.ts';
import { Checkpoint, type WeightSource } from '../lib/model/checkpoint.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { generate } from '../lib/model/generate.ts';
import { kernelsFor, type LoadOptions, loadModel } from '../lib/model/load.ts';
import { nextToken } from '../lib/model/sampling.ts';
import type { WeightDtype } from '../lib/model/kernels.ts';
import type { StoredMatrix } from '../lib/model/weightdtype.ts';
import { gpuBatch } from '../lib/model/memory.ts';
import { openSession } from '../lib/session.ts';
import { type Model, Transformer } from '../lib/model/transformer.ts';
import { Gpu } from '../lib/model/webgpu/gpu.ts';
import { WebgpuKernels } from '../lib/model/webgpu/kernels.ts';
import { gpuWeights } from '../lib/model/webgpu/weights.ts';
import { workerPool } from '../lib/parallel/pool.ts';
import { denseCodes, encodeSparse, loadSae, saeComputeOptions } from '../lib/sae/index.ts';
import { Rng } from '../lib/random.ts';
import { openWebgpu, type WebgpuAdapterChoice } from '../lib/webgpu.ts';
import { registerAdapterCases } from './support/adapter-cases.ts';
import { registerDtypeCases } from './support/dtype-cases.ts';
import { MODEL_CASES, MODEL_FIXTURES, maxAbsDiff, registerModelCases } from './support/model-cases.ts';
import { registerSaeCases, SAE_DIR, saeExpected, TOL_CODES } from './support/sae-cases.ts';
import { nanRows } from './support/poison.ts';
import { registerSteeringCases } from './support/steering-cases.ts';
import { assertExit, runCli, runCommand } from './support/cli.ts';

const ADAPTER = (process.env.ESR_TEST_WEBGPU_ADAPTER ?? 'opengl') as WebgpuAdapterChoice;
let skip: string | undefined;
let backend: Backend | undefined;
try {
  backend = await openBackend({ choice: 'webgpu', adapter: ADAPTER }, () => {});
  console.log(`# ${backend.description}`);
} catch (err) {
  skip = `no WebGPU adapter here (${(err as Error).message})`;
  console.log(`# skipping the WebGPU tests: ${skip}`);
}

const o = { skip, prefix: 'webgpu: ', backend };
registerModelCases(o);
registerAdapterCases(o);
registerSteeringCases(o);
registerSaeCases(o);

test('webgpu: past the binding limit, lm_head, projections and SAE encoder split in blocks with the same results', {
  skip,
}, async () => {
  const small = withBindingLimit(backend!, 20_000); // bytes: every [64, n > 78] f32 matrix splits
  {
    for (const name of ['llama3-gqa', 'gemma2-f16']) {
      const dir = join(MODEL_FIXTURES, name);
      const expected = new SafetensorsFile(join(dir, 'expected.safetensors'));
      const config = loadModelConfig(dir);
      const ck = new Checkpoint(dir, config, null);
      const gpu = new Gpu();
      const w = await gpuWeights(gpu, ck, config, 'f32', small.maxBindingBytes).finally(() => ck.close());
      assert.ok(w.lmHead.blocks.length >= 4, `${name}: lm_head in ${w.lmHead.blocks.length} blocks`);
      assert.ok(w.layers[0].gateUp.blocks.length >= 2, `${name}: gate/up split`);
      assert.ok(
        w.layers[0].gateUp.blocks.every((b) => b.rows % 2 === 0),
        `${name}: gate/up pairs kept whole`,
      );
      const model = new Transformer(
        config,
        new WebgpuKernels(gpu, config, w, 'f32', { fuse: true, maxBindingBytes: small.maxBindingBytes }),
      );
      const ids = Array.from(expected.read('ids.1').data, Number);
      const cache = model.newCache(1, 64);
      const out = await model.forward([ids], cache, { read: ['resid_post.1'] });
      assert.ok(maxAbsDiff(await out.logits!.data(), expected.read('logits.1').data) < 1e-4, `${name}: logits`);
      assert.ok(
        maxAbsDiff(await out.acts.get('resid_post.1')!.data(), expected.read('resid_post.1.1').data) < 1e-4,
        `${name}: resid_post.1`,
      );
      out.logits!.dispose();
      out.acts.forEach((t) => t.dispose());
      cache.dispose();
      model.dispose();
    }
    const sae = loadSae(join(SAE_DIR, 'saelens_jumprelu'), { hash: false, ...saeComputeOptions(small) });
    assert.ok(sae.nBlocks >= 2, `SAE encoder in ${sae.nBlocks} blocks`);
    const x = saeExpected.read('x');
    const h = tf.tensor2d(x.data, x.shape as [number, number]);
    assert.ok(
      maxAbsDiff(denseCodes(await encodeSparse(sae, h)), saeExpected.read('saelens_jumprelu/codes').data) <= TOL_CODES,
    );
    h.dispose();
    sae.dispose();
  }
});

test('webgpu: the adapter is described once, a software one is marked, auto never takes a software adapter, no worker threads', {
  skip,
}, async () => {
  await assert.rejects(
    workerPool({ model: join(MODEL_FIXTURES, 'llama3-gqa'), sae: null, backend: { choice: 'webgpu' } }, 2),
    /--workers 2: .*on WebGPU one process drives the GPU/,
  );
  const dev = backend!.gpu!;
  const description = backend!.description;
  assert.ok(description.startsWith('webgpu: ') && description.includes(dev.description));
  if (/llvmpipe|lavapipe|swiftshader/i.test(dev.description))
    assert.ok(dev.software && description.endsWith('software adapter'));
  const auto = await openWebgpu('auto', true);
  if (typeof auto === 'string') assert.match(auto, /missing system libraries|no adapter|only a software adapter/);
  else assert.equal(auto.software, false);
});

test("webgpu: analyze forward --backend webgpu prints the adapter and writes transformers' logits; a missing adapter library is named", {
  skip,
}, () => {
  const model = join(MODEL_FIXTURES, 'llama-tied-bf16');
  const expected = new SafetensorsFile(join(model, 'expected.safetensors'));
  const ids = Array.from(expected.read('ids.2').data, Number);
  const out = join(mkdtempSync(join(tmpdir(), 'webgpu-')), 'fwd.safetensors');
  const analyze = (...args: string[]) => runCli(args);
  const r = analyze(
    'forward',
    '--model',
    model,
    '--ids',
    ids.join(','),
    '--out',
    out,
    '--backend',
    'webgpu',
    '--webgpu-adapter',
    ADAPTER,
  );
  assertExit(r, 0);
  assert.equal(r.stderr.match(/^backend: webgpu: /gm)?.length, 1, r.stderr);
  assert.ok(maxAbsDiff(new SafetensorsFile(out).read('logits').data, expected.read('logits.2').data) < 1e-4);
  const noVulkan = runCommand('sh', ['-c', 'ldconfig -p | grep -q "libvulkan.so.1 "']).status !== 0;
  if (noVulkan && process.platform === 'linux') {
    const bad = analyze(
      'forward',
      '--model',
      model,
      '--ids',
      '1',
      '--out',
      out,
      '--backend',
      'webgpu',
      '--webgpu-adapter',
      'vulkan',
    );
    assertExit(bad, 2);
    assert.match(
      bad.stderr,
      /--backend webgpu: no WebGPU adapter \(vulkan: missing system libraries libvulkan\.so\.1 \(Debian package libvulkan1\)\)/,
    );
  }
});

test("webgpu: seeded sampling on the device picks the tokens sampling.ts picks from the device's logits", {
  skip,
}, async () => {
  const settings = [
    { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.3 },
    { temperature: 1.5, topK: 0, topP: 1, repetitionPenalty: 1.2 },
    { temperature: 0.8, topK: 50, topP: 0.9, repetitionPenalty: 1.1 },
    { temperature: 1, topK: 0, topP: 0.5, repetitionPenalty: 1 },
    { temperature: 2, topK: 600, topP: 1, repetitionPenalty: 1 }, // top-k past the vocabulary: off
  ];
  const steps = 16;
  for (const name of ['llama3-gqa', 'gemma2-f16']) {
    const expected = new SafetensorsFile(join(MODEL_FIXTURES, name, 'expected.safetensors'));
    const prompts = [0, 1, 2].map((s) => Array.from(expected.read(`ids.${s}`).data, Number));
    const model = await loadModel(join(MODEL_FIXTURES, name), backend!);
    for (const s of settings) {
      const seeds = [5, 6, 7];
      const onDevice = await generate(model, prompts, { ...s, maxNewTokens: steps, stopIds: [], seeds, batch: 2 });
      // each prompt alone, its last-token logits read back and the JS rule applied to them
      const inJs = [];
      for (const [i, p] of prompts.entries()) {
        const cache = model.newCache(1, p.length + steps);
        const rng = new Rng(seeds[i]);
        const out: number[] = [];
        for (let next = p; out.length < steps; next = [out[out.length - 1]]) {
          const r = await model.forward([next], cache, { logits: 'last' });
          const logits = (await r.logits!.data()) as Float32Array;
          r.logits!.dispose();
          out.push(nextToken(logits, cache.sequence(0), s, s.temperature > 0 ? rng.float() : 0));
        }
        cache.dispose();
        inJs.push(out);
      }
      assert.deepEqual(onDevice.tokens, inJs, `${name} ${JSON.stringify(s)}`);
    }
    model.dispose();
  }
});

test('webgpu: a row whose logits are not finite is stopped and marked (greedy and sampled); the other row is untouched', {
  skip,
}, async () => {
  const model = await loadModel(join(MODEL_FIXTURES, 'llama3-gqa'), backend!);
  const prompts = [
    [1, 5, 9, 13],
    [1, 7, 11, 17],
  ];
  for (const s of [
    { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 },
    { temperature: 0.8, topK: 50, topP: 0.9, repetitionPenalty: 1.1 },
  ]) {
    const opts = { ...s, maxNewTokens: 6, stopIds: [], seeds: [3, 4] };
    const clean = await generate(model, prompts, opts);
    const hooked = await generate(model, prompts, { ...opts, hooks: new Map([['resid_post.0', nanRows(1)]]) });
    assert.deepEqual(hooked.nonFinite, [-1, 0], JSON.stringify(s));
    assert.deepEqual(hooked.tokens, [clean.tokens[0], []], JSON.stringify(s));
  }
  model.dispose();
});

test('webgpu: analyze generate with a seed gives the same tokens on wasm and on webgpu', { skip }, () => {
  const model = join(MODEL_FIXTURES, 'gemma2-f16');
  const ids = Array.from(new SafetensorsFile(join(model, 'expected.safetensors')).read('ids.1').data, Number);
  const run = (...backendArgs: string[]) => {
    const r = runCli([
      'generate',
      '--model',
      model,
      '--ids',
      ids.join(','),
      '--max-tokens',
      '24',
      '--temperature',
      '1',
      '--top-p',
      '0.95',
      '--repetition-penalty',
      '1.1',
      '--seed',
      '3',
      '--json',
      '--backend',
      ...backendArgs,
    ]);
    assertExit(r, 0);
    return JSON.parse(r.stdout).tokens as number[];
  };
  const wasm = run('wasm');
  assert.equal(wasm.length, 24);
  assert.deepEqual(run('webgpu', '--webgpu-adapter', ADAPTER), wasm);
});

registerDtypeCases(o);

test('webgpu: bf16 weights take half the bytes of f32 on the device, FP8 a quarter of the decoder linears', {
  skip,
}, async () => {
  const dir = join(MODEL_FIXTURES, 'llama3-gqa');
  const bytes = async (load: LoadOptions) => {
    const model = await loadModel(dir, backend!, load);
    const r = { dtype: model.dtype, bytes: model.weightBytes };
    model.dispose();
    return r;
  };
  const f32 = await bytes({ dtype: 'f32' });
  const bf16 = await bytes({ dtype: 'bf16' });
  const fp8 = await bytes({ quantize: 'fp8' });
  assert.deepEqual([f32.dtype, bf16.dtype, fp8.dtype], ['f32', 'bf16', 'fp8']);
  const c = loadModelConfig(dir);
  const decoder =
    c.numLayers *
    ((c.numHeads + 2 * c.numKvHeads) * c.headDim * c.hiddenSize +
      c.numHeads * c.headDim * c.hiddenSize +
      3 * c.hiddenSize * c.intermediateSize);
  const linears = decoder + c.vocabSize * c.hiddenSize; // with the lm_head
  assert.equal(f32.bytes - bf16.bytes, 2 * linears, 'f32 − bf16: two bytes per linear weight');
  // FP8: one byte per decoder weight plus an f32 scale per output row; the lm_head stays as stored (f32)
  const rows =
    c.numLayers * ((c.numHeads + 2 * c.numKvHeads) * c.headDim + c.hiddenSize + 2 * c.intermediateSize + c.hiddenSize);
  assert.equal(f32.bytes - fp8.bytes, 3 * decoder - 4 * rows, 'f32 − fp8');
});

test('webgpu: a session sizes the default batch from --gpu-memory, else on a hardware adapter from the driver (a software adapter keeps it)', {
  skip,
}, async () => {
  const model = join(MODEL_FIXTURES, 'llama3-gqa');
  const shape = { promptTokens: 9, newTokens: 100 };
  const given = await openSession({ model, sae: join(SAE_DIR, 'saelens_relu'), backend: backend!, gpuMemory: 0.0015 });
  const chosen = given.batchFor?.(shape);
  const c = loadModelConfig(model);
  assert.deepEqual(chosen?.batch, gpuBatch(c, 'f32', 1.5e6, shape).batch);
  assert.ok(chosen.batch > 1 && chosen.batch < 64, JSON.stringify(chosen));
  assert.match(chosen.why, /^--gpu-memory: 0\.0 GB budget/);
  const unsized = await openSession({ model, sae: join(SAE_DIR, 'saelens_relu'), backend: backend! });
  if (backend!.gpu!.software)
    assert.equal(unsized.batchFor, undefined, 'a software adapter is a CPU: the default stays');
  else {
    // a hardware GPU: sized from the NVIDIA driver's free memory where readable, else 32
    const byDefault = unsized.batchFor?.(shape);
    assert.ok(byDefault && byDefault.batch >= 1 && byDefault.batch <= 64, JSON.stringify(byDefault));
    assert.match(byDefault.why, /^(the NVIDIA driver's free memory: |no free-memory figure here)/);
  }
  for (const s of [given, unsized]) await s.executor.close(); // not session.close(): it would close the shared backend
});

test('webgpu: fused kernels give the unfused path, in prefill and in decode past Gemma-2 sliding window, with soft-caps', {
  skip,
}, async () => {
  for (const name of [...MODEL_CASES, 'llama3-fp8-channel']) {
    const dir = join(MODEL_FIXTURES, name);
    const ids = Array.from(new SafetensorsFile(join(dir, 'expected.safetensors')).read('ids.0').data, Number);
    const run = async (fuse: boolean) => {
      const model = await loadModel(dir, backend!, { fuse });
      const reads = Array.from({ length: model.config.numLayers }, (_, l) => `resid_post.${l}`);
      const cache = model.newCache(2, ids.length);
      const got: number[] = [];
      // two rows: the sequence prefilled at once, and the same sequence token by token from 9 on (past the window of 6)
      const steps: number[][][] = [[ids, ids.slice(0, 9)], ...ids.slice(9).map((t) => [[t]])];
      for (const [i, rows] of steps.entries()) {
        const out = await model.forward(rows, cache, { slots: i === 0 ? [0, 1] : [1], read: reads });
        got.push(...(await out.logits!.data()));
        for (const r of reads) got.push(...(await out.acts.get(r)!.data()));
        out.logits!.dispose();
        out.acts.forEach((t) => t.dispose());
      }
      cache.dispose();
      model.dispose();
      return got;
    };
    const fused = await run(true);
    const unfused = await run(false);
    assert.equal(fused.length, unfused.length);
    assert.ok(maxAbsDiff(fused, unfused) === 0, `${name}: fused and unfused differ by ${maxAbsDiff(fused, unfused)}`);
  }
});

/**
 * Random weights of a config's shapes in a dtype, the same for every call (one stream per tensor name): linear
 * weights of about 1/√in, FP8 bytes (never NaN) with per-row scales, FP8's embeddings in bf16.
 */
function randomWeights(held: WeightDtype): WeightSource {
  const rngOf = (name: string) => new Rng([...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 2 ** 31, 7));
  return {
    matrix: async (name: string, rows: number, cols: number): Promise<StoredMatrix> => {
      const rng = rngOf(name);
      const a = 1.7 / Math.sqrt(cols);
      const kind = held === 'fp8' && !name.startsWith('model.layers.') ? 'bf16' : held;
      const n = rows * cols;
      if (kind === 'fp8') {
        const bytes = Uint8Array.from({ length: n }, () => rng.int(0x7f) | (rng.int(2) << 7));
        return {
          kind,
          rows,
          cols,
          bytes,
          scale: Float32Array.from({ length: rows }, () => ((0.1 + rng.float()) * a) / 100),
        };
      }
      const data = Float32Array.from({ length: n }, () => (2 * rng.float() - 1) * a);
      if (kind === 'f32') return { kind, rows, cols, data };
      if (kind === 'bf16')
        return { kind, rows, cols, bits: new Uint16Array(new Uint32Array(data.buffer).map((b) => b >>> 16)) };
      // f16: sign, exponent 8..13 (2^-7 to 2^-2), random mantissa
      return {
        kind,
        rows,
        cols,
        bits: Uint16Array.from({ length: n }, () => (rng.int(2) << 15) | ((8 + rng.int(6)) << 10) | rng.int(1024)),
      };
    },
    vector: (name: string, n: number) => {
      const rng = rngOf(name);
      return Float32Array.from({ length: n }, () => 0.5 + rng.float());
    },
    headName: () => 'lm_head.weight',
    finish: () => {},
  };
}

test("webgpu: the 32-row tiled linears give the 4-row GEMV's bits for every output (f32, bf16, f16, FP8; prefill, packed decode, last-token logits)", {
  skip,
}, async () => {
  // the fixtures' configs widened so each of the 32 lanes sums several units of 4 inputs, unevenly (1000 = 250 units)
  const wide = { hidden_size: 256, intermediate_size: 1000, head_dim: 64, num_hidden_layers: 2 };
  const cases: [string, WeightDtype][] = [
    ['llama3-gqa', 'f32'],
    ['llama3-gqa', 'bf16'],
    ['llama3-gqa', 'fp8'],
    ['gemma2-f16', 'f16'],
  ];
  for (const [name, dtype] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'esr-tile-'));
    const cfg = JSON.parse(readFileSync(join(MODEL_FIXTURES, name, 'config.json'), 'utf8'));
    if (cfg.layer_types) cfg.layer_types = cfg.layer_types.slice(0, wide.num_hidden_layers);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, ...wide }));
    const config = loadModelConfig(dir);
    // 6 rows of 3-13 tokens prefilled together (48 tokens: a full 32-row tile and a partial one; all logits), then
    // 2 steps of the 6 rows (last-token logits)
    const prompts = Array.from({ length: 6 }, (_, r) =>
      Array.from({ length: 3 + 2 * r }, (_, j) => (7 * r + 11 * j) % 512),
    );
    const reads = Array.from({ length: config.numLayers }, (_, l) => `resid_post.${l}`);
    const run = async (tiledFrom: number) => {
      const model: Model = new Transformer(
        config,
        await kernelsFor(backend!, randomWeights(dtype), config, dtype, { tiledFrom }),
      );
      const cache = model.newCache(prompts.length, 64);
      const got: Float32Array[] = [];
      const steps = [prompts, ...[1, 2].map((k) => prompts.map((_, r) => [(r * 13 + k * 5) % 512]))];
      for (const [i, rows] of steps.entries()) {
        const out = await model.forward(rows, cache, { read: reads, logits: i === 0 ? 'all' : 'last' });
        got.push((await out.logits!.data()) as Float32Array);
        for (const r of reads) got.push((await out.acts.get(r)!.data()) as Float32Array);
        out.logits!.dispose();
        out.acts.forEach((t) => t.dispose());
      }
      cache.dispose();
      model.dispose();
      return got.flatMap((a) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)));
    };
    const tiled = await run(1);
    const gemv = await run(Number.POSITIVE_INFINITY);
    assert.equal(tiled.length, gemv.length);
    const differ = tiled.findIndex((b, i) => b !== gemv[i]);
    assert.equal(differ, -1, `${name} ${dtype}: the tiled and GEMV outputs differ first at element ${differ}`);
    const values = new Float32Array(Uint32Array.from(tiled).buffer);
    assert.ok(values.every(Number.isFinite), `${name} ${dtype}: finite`);
  }
});
