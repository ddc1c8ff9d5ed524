// bench/capture: capture throughput — forward to the feature layer + SAE encode + sparse store — against
// PyTorch + transformers hooks + the same SAE in torch, same model, texts and batches, in the same run.
// Uses the 110M random Llama (shipped tokenizer) and 16,384-wide SAE that bench/find-otd-latents creates.
//   node --import tsx bench/capture/capture.ts [--samples 64] [--batch 8] [--workers 2]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openBackend } from '../../lib/backend.ts';
import { capture, planBatches, prepareSample } from '../../lib/capture/capture.ts';
import { readSamples } from '../../lib/capture/samples.ts';
import { jsonlRecords } from '../../lib/io/lines.ts';
import { hookName, residPost } from '../../lib/model/hooks.ts';
import { loadModel } from '../../lib/model/load.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { type Executor, localExecutor, workerPool } from '../../lib/parallel/pool.ts';
import { loadSae } from '../../lib/sae/index.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '64' },
    batch: { type: 'string', default: '8' },
    workers: { type: 'string', default: '2' },
    python: { type: 'string', default: '.venv-ref/bin/python' },
  },
});
const root = join(import.meta.dirname, '..', '..');
const cache = join(root, 'bench', '.cache');
const model = join(cache, 'otd-llama-110m'),
  saeDir = join(cache, 'sae-16k-l6'),
  layer = 6;
const hook = residPost(layer);
if (!existsSync(join(model, 'config.json')) || !existsSync(join(saeDir, 'cfg.json'))) {
  console.error(
    'first run `node --import tsx bench/find-otd-latents/bench.ts --only 110m` to create the 110M model and 16k SAE',
  );
  process.exit(2);
}
const tmp = mkdtempSync(join(tmpdir(), 'bench-capture-'));
// Samples: the shipped prompts with their reference answers, rendered with the chat template.
const answersPath = join(root, 'data', 'corpus', 'answers.jsonl');
const rows = jsonlRecords(readFileSync(answersPath, 'utf8'), answersPath)
  .map((r) => r.value as { prompt: string; answer: string })
  .slice(0, Number(values.samples));
writeFileSync(
  join(tmp, 'samples.jsonl'),
  rows
    .map((r, i) => JSON.stringify({ id: `s${i}`, prompt: r.prompt, response: r.answer, condition: 'on_topic' }))
    .join('\n'),
);
const samples = readSamples(join(tmp, 'samples.jsonl'));

const backend = await openBackend('wasm');
const tokenizer = loadTokenizer(model);
const sae = loadSae(saeDir, { hash: false });
const batches = planBatches(
  samples.map((s) => prepareSample(tokenizer, s)),
  Number(values.batch),
);
const tokens = batches.reduce((a, b) => a + b.reduce((x, p) => x + p.ids.length, 0), 0);
writeFileSync(join(tmp, 'batches.json'), JSON.stringify(batches.map((b) => b.map((p) => p.ids))));

async function ours(executor: Executor, name: string): Promise<number> {
  const settings = { hook: hookName(hook), batch_size: Number(values.batch) };
  const meta = { model, sae: saeDir, layer, hook: hookName(hook), d_sae: sae.dSae };
  await capture(
    { tokenizer, executor, hook },
    samples.slice(0, Number(values.batch)),
    join(tmp, `warm-${name}.acts`),
    meta,
    { batchSize: Number(values.batch), settings },
  );
  const start = performance.now();
  await capture({ tokenizer, executor, hook }, samples, join(tmp, `${name}.acts`), meta, {
    batchSize: Number(values.batch),
    settings,
  });
  return tokens / ((performance.now() - start) / 1000);
}

const single = await ours(localExecutor({ model: await loadModel(model, backend), sae }), 'local');
const workers = Number(values.workers);
let pooled: number | null = null;
if (workers > 0) {
  const pool = await workerPool({ model, sae: saeDir, backend: { choice: 'wasm' } }, workers);
  try {
    pooled = await ours(pool, 'pool');
  } finally {
    await pool.close();
  }
}
const peer = JSON.parse(
  execFileSync(
    values.python!,
    [join(import.meta.dirname, 'peer_torch.py'), model, saeDir, String(layer), join(tmp, 'batches.json'), '2'],
    { encoding: 'utf8' },
  ),
);
console.log(
  `\ncapture, 110M Llama to layer ${layer} + 16,384-wide SAE, ${samples.length} samples (${tokens} tokens) in batches of ${values.batch}`,
);
console.log(
  `  ours, 1 WASM thread:   ${single.toFixed(0)} tokens/s   (ratio to torch ${(single / peer.tokens_per_s).toFixed(2)})`,
);
if (pooled !== null)
  console.log(
    `  ours, ${workers} workers:       ${pooled.toFixed(0)} tokens/s   (ratio ${(pooled / peer.tokens_per_s).toFixed(2)})`,
  );
console.log(
  `  PyTorch (${peer.threads} threads, hooks, torch SAE, no store): ${peer.tokens_per_s.toFixed(0)} tokens/s`,
);
rmSync(tmp, { recursive: true, force: true });
