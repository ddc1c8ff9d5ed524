// bench/forward: prefill and decode tokens/s of lib/model against PyTorch + transformers on one random
// ~110M-parameter Llama, in the same run. Usage: node --import tsx bench/forward/forward.ts [--prompt 512] [--steps 32] [--batch 8] [--workers 2]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../../lib/backend.ts';
import { generate } from '../../lib/model/generate.ts';
import { loadModel } from '../../lib/model/load.ts';
import { GREEDY } from '../../lib/model/sampling.ts';
import { runOrdered, workerPool } from '../../lib/parallel/pool.ts';
import { Rng } from '../../lib/random.ts';

const { values } = parseArgs({
  options: {
    prompt: { type: 'string', default: '512' },
    steps: { type: 'string', default: '32' },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
    python: { type: 'string', default: '.venv-ref/bin/python' },
    workers: { type: 'string', default: '2' },
  },
});
const promptLen = Number(values.prompt), steps = Number(values.steps), batch = Number(values.batch);
const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'bench', '.cache', 'llama-110m');
execFileSync(values.python!, [join(import.meta.dirname, 'make_checkpoint.py'), dir], { stdio: 'inherit' });

await initBackend('wasm');
const t0 = performance.now();
const model = loadModel(dir);
console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const rng = new Rng(0);
const ids = (n: number) => Array.from({ length: n }, () => 3 + rng.int(model.config.vocabSize - 3));

function prefillRate(): number {
  const prompt = ids(promptLen);
  const cache = model.newCache(1);
  const start = performance.now();
  const out = model.forward(prompt, new Uint8Array(promptLen).fill(1), 1, cache, { logits: 'last' });
  out.logits!.dataSync();
  const ms = performance.now() - start;
  out.logits!.dispose();
  cache.dispose();
  return promptLen / (ms / 1000);
}

function decodeRate(rows: number): number {
  const prompts = Array.from({ length: rows }, () => ids(32));
  const start = performance.now();
  generate(model, prompts, { ...GREEDY, maxNewTokens: steps, stopIds: [] });
  return (rows * steps) / ((performance.now() - start) / 1000);
}

/** Throughput with `workers` worker threads, each with its own model copy: prompts prefilled, rows decoded. */
async function pooled(workers: number) {
  const pool = await workerPool({ model: dir, sae: null, backend: 'wasm' }, workers);
  try {
    const prompts = Array.from({ length: 2 * workers }, () => ids(promptLen));
    let start = performance.now();
    await runOrdered(pool, prompts.map((p) => ({ kind: 'generate' as const, prompts: [p], options: { ...GREEDY, maxNewTokens: 1, stopIds: [] } })), () => {});
    const prefill = (prompts.length * promptLen) / ((performance.now() - start) / 1000);
    const rows = Array.from({ length: workers }, () => Array.from({ length: batch }, () => ids(32)));
    start = performance.now();
    await runOrdered(pool, rows.map((r) => ({ kind: 'generate' as const, prompts: r, options: { ...GREEDY, maxNewTokens: steps, stopIds: [] } })), () => {});
    return { prefill, decode: (workers * batch * steps) / ((performance.now() - start) / 1000) };
  } finally {
    await pool.close();
  }
}

prefillRate(); // warm-up
const ours = { prefill: prefillRate(), decode1: decodeRate(1), decodeB: decodeRate(batch) };
const workers = Number(values.workers);
const pool = workers > 0 ? await pooled(workers) : null;
const peer = (rows: number) =>
  JSON.parse(execFileSync(values.python!, [join(import.meta.dirname, 'peer_torch.py'), dir, String(promptLen), String(steps), String(rows), values.threads!], { encoding: 'utf8' }));
const torch1 = peer(1);
const torchB = peer(batch);

const row = (name: string, a: number, b: number) => console.log(`${name.padEnd(34)} ${a.toFixed(1).padStart(9)} ${b.toFixed(1).padStart(9)} ${(a / b).toFixed(2).padStart(7)}`);
console.log(`\n${'tokens/s'.padEnd(34)} ${'ours'.padStart(9)} ${'torch'.padStart(9)} ${'ratio'.padStart(7)}   (torch threads: ${torch1.threads}; ours: 1 wasm thread)`);
row(`prefill (${promptLen}-token prompt)`, ours.prefill, torch1.prefill_tok_s);
row(`greedy decode, batch 1`, ours.decode1, torch1.decode_tok_s);
row(`greedy decode, batch ${batch}`, ours.decodeB, torchB.decode_tok_s);
if (pool) {
  row(`prefill, ${workers} workers (${2 * workers} prompts)`, pool.prefill, torch1.prefill_tok_s);
  row(`greedy decode, ${workers} workers × batch ${batch}`, pool.decode, torchB.decode_tok_s);
}
