// bench/forward: prefill and decode tokens/s of lib/model against PyTorch + transformers on one random Llama,
// in the same run. Usage: node --import tsx bench/forward/forward.ts [--backend wasm|webgpu|…] [--size 110m|1b]
//   [--prompt 512] [--steps 32] [--batch 8] [--workers 2] [--torch-device cpu|cuda] [--python PATH]
//   [--dtype auto|f32|bf16|f16] [--quantize fp8]
// Also prints, for each decode run, the kernel dispatches per step (per layer) and the peak device bytes.
// 110m: 12 layers, d = 768, vocab 32,000; 1b: Llama-3.2-1B's shape (more than one WASM instance holds).
// With --torch-device cuda, PyTorch runs in f32 and bf16 on the GPU; otherwise in f32 on --threads CPU threads.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BackendChoice, openBackend } from '../../lib/backend.ts';
import { generate } from '../../lib/model/generate.ts';
import { type DtypeChoice, loadModel } from '../../lib/model/load.ts';
import { GREEDY } from '../../lib/model/sampling.ts';
import { runOrdered, workerPool } from '../../lib/parallel/pool.ts';
import { Rng } from '../../lib/random.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    size: { type: 'string', default: '110m' },
    prompt: { type: 'string', default: '512' },
    steps: { type: 'string', default: '32' },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
    python: { type: 'string', default: '.venv-ref/bin/python' },
    workers: { type: 'string', default: '2' },
    'torch-device': { type: 'string', default: 'cpu' },
    dtype: { type: 'string', default: 'auto' },
    quantize: { type: 'string', default: 'none' },
  },
});
const promptLen = Number(values.prompt),
  steps = Number(values.steps),
  batch = Number(values.batch);
const choice = values.backend as BackendChoice;
const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'bench', '.cache', `llama-${values.size}`);
execFileSync(values.python!, [join(import.meta.dirname, 'make_checkpoint.py'), dir, values.size!], {
  stdio: 'inherit',
});

const backend = await openBackend(choice);
const active = backend.description;
const t0 = performance.now();
const model = await loadModel(dir, backend, {
  dtype: values.dtype as DtypeChoice,
  quantize: values.quantize === 'fp8' ? 'fp8' : null,
});
console.log(
  `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${model.dtype} weights, ${(model.weightBytes / 2 ** 30).toFixed(2)} GiB on the backend`,
);
const rng = new Rng(0);
const ids = (n: number) => Array.from({ length: n }, () => 3 + rng.int(model.config.vocabSize - 3));

async function prefillRate(): Promise<number> {
  const prompt = ids(promptLen);
  const cache = model.newCache(1, promptLen);
  const start = performance.now();
  const out = await model.forward([prompt], cache, { logits: 'last' });
  await out.logits!.data();
  const ms = performance.now() - start;
  out.logits!.dispose();
  cache.dispose();
  return promptLen / (ms / 1000);
}

async function decodeRate(rows: number): Promise<number> {
  const prompts = Array.from({ length: rows }, () => ids(32));
  const start = performance.now();
  const g = await generate(model, prompts, { ...GREEDY, maxNewTokens: steps, stopIds: [] });
  const rate = (rows * steps) / ((performance.now() - start) / 1000);
  // one step per new token of every row (the first step also prefills the prompts)
  const { dispatches } = model.usage();
  const perStep = dispatches === null ? 'n/a (tfjs ops)' : (dispatches / steps).toFixed(1);
  const perLayer =
    dispatches === null ? '' : ` (${(dispatches / steps / model.config.numLayers).toFixed(2)} per layer)`;
  console.log(
    `decode, batch ${rows}, ${steps} steps: ${rate.toFixed(1)} tok/s; dispatches per step ${perStep}${perLayer}; peak ${(g.memory.peakBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  return rate;
}

/** Throughput with `workers` worker threads, each with its own model copy: prompts prefilled, rows decoded. */
async function pooled(workers: number) {
  const pool = await workerPool({ model: dir, sae: null, backend: backend.spec }, workers);
  try {
    const prompts = Array.from({ length: 2 * workers }, () => ids(promptLen));
    let start = performance.now();
    await runOrdered(
      pool,
      prompts.map((p) => ({
        kind: 'generate' as const,
        prompts: [p],
        options: { ...GREEDY, maxNewTokens: 1, stopIds: [] },
      })),
      () => {},
    );
    const prefill = (prompts.length * promptLen) / ((performance.now() - start) / 1000);
    const rows = Array.from({ length: workers }, () => Array.from({ length: batch }, () => ids(32)));
    start = performance.now();
    await runOrdered(
      pool,
      rows.map((r) => ({
        kind: 'generate' as const,
        prompts: r,
        options: { ...GREEDY, maxNewTokens: steps, stopIds: [] },
      })),
      () => {},
    );
    return { prefill, decode: (workers * batch * steps) / ((performance.now() - start) / 1000) };
  } finally {
    await pool.close();
  }
}

// Warm-ups: WebGPU compiles its shaders on first use of each shape.
await prefillRate();
const gpu = active.startsWith('webgpu');
if (gpu) {
  await decodeRate(1);
  await decodeRate(batch);
}
const ours = { prefill: await prefillRate(), decode1: await decodeRate(1), decodeB: await decodeRate(batch) };
model.dispose();
// Worker threads multiply WASM instances over CPU cores; a GPU is one device.
const workers = gpu ? 0 : Number(values.workers);
const pool = workers > 0 ? await pooled(workers) : null;
backend.close();

const cuda = values['torch-device'] === 'cuda';
const dtypes = cuda ? ['float32', 'bfloat16'] : ['float32'];
const peer = (rows: number, dtype: string) =>
  JSON.parse(
    execFileSync(
      values.python!,
      [
        join(import.meta.dirname, 'peer_torch.py'),
        dir,
        String(promptLen),
        String(steps),
        String(rows),
        values.threads!,
        values['torch-device']!,
        dtype,
      ],
      { encoding: 'utf8' },
    ),
  );
const torch1 = dtypes.map((d) => peer(1, d));
const torchB = dtypes.map((d) => peer(batch, d));

const names = torch1.map((t) => (cuda ? `torch ${t.dtype === 'float32' ? 'f32' : 'bf16'}` : 'torch'));
const row = (name: string, a: number, b: number[]) =>
  console.log(
    `${name.padEnd(34)} ${a.toFixed(1).padStart(9)} ${b.map((x) => x.toFixed(1).padStart(10)).join(' ')} ${(a / b[0]).toFixed(2).padStart(7)}`,
  );
const where = cuda ? `torch on ${torch1[0].gpu}` : `torch threads: ${torch1[0].threads}`;
console.log(
  `\n${'tokens/s'.padEnd(34)} ${'ours'.padStart(9)} ${names.map((n) => n.padStart(10)).join(' ')} ${'ratio'.padStart(7)}   (${where}; ours: ${active})`,
);
row(
  `prefill (${promptLen}-token prompt)`,
  ours.prefill,
  torch1.map((t) => t.prefill_tok_s),
);
row(
  `greedy decode, batch 1`,
  ours.decode1,
  torch1.map((t) => t.decode_tok_s),
);
row(
  `greedy decode, batch ${batch}`,
  ours.decodeB,
  torchB.map((t) => t.decode_tok_s),
);
if (pool) {
  row(
    `prefill, ${workers} workers (${2 * workers} prompts)`,
    pool.prefill,
    torch1.map((t) => t.prefill_tok_s),
  );
  row(
    `greedy decode, ${workers} workers × batch ${batch}`,
    pool.decode,
    torchB.map((t) => t.decode_tok_s),
  );
}
