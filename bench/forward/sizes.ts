// bench/forward/sizes: which of the paper's models (bench/forward/paper_models.json) fit the active backend's
// device in a dtype, largest first refused up front as loadModel refuses it, and prefill/decode tokens/s,
// dispatches per step and peak device bytes of those that fit. Weights of each model's exact shapes are made
// in the dtype (constant values: the timing does not depend on them) and loaded as a checkpoint's would be
// (lib/model/load.ts kernelsFor); no checkpoint is read. Each run also prints the memory model's bytes for its
// shape (lib/model/memory.ts) beside the measured peak, and the default GPU batch a session would take here.
// With --torch-device, PyTorch + transformers (bench/forward/peer_torch.py) times the same shapes in the same
// run, on random weights made on that device in the same dtype (f32/bf16 only), after our backend is closed.
// Usage:
//   node --import tsx bench/forward/sizes.ts [--backend webgpu] [--dtype f32|bf16|fp8] [--prompt 128]
//     [--steps 16] [--batch 1] [--tiled-from ROWS] [--torch-device cuda|cpu] [--python python3] [MODEL …]
// --tiled-from: the fewest rows a step's linears take in 32-row tiles (lib/model/webgpu/kernels.ts; default: the
// GEMV everywhere), to time the tile against the GEMV on a GPU.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BackendChoice, openBackend } from '../../lib/backend.ts';
import type { WeightSource } from '../../lib/model/checkpoint.ts';
import { loadModelConfig, type ModelConfig } from '../../lib/model/config.ts';
import { generate } from '../../lib/model/generate.ts';
import { defaultGpuBatch, gpuBudget, runBytes } from '../../lib/model/memory.ts';
import type { WeightDtype } from '../../lib/model/kernels.ts';
import { backendWeightBytes, kernelsFor } from '../../lib/model/load.ts';
import { GREEDY } from '../../lib/model/sampling.ts';
import { type Model, Transformer } from '../../lib/model/transformer.ts';
import type { StoredMatrix } from '../../lib/model/weightdtype.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string', default: 'webgpu' },
    dtype: { type: 'string', default: 'f32' },
    prompt: { type: 'string', default: '128' },
    steps: { type: 'string', default: '16' },
    batch: { type: 'string', default: '1' },
    'tiled-from': { type: 'string' },
    'torch-device': { type: 'string' },
    python: { type: 'string', default: 'python3' },
  },
});
const all: Record<string, object> = JSON.parse(readFileSync(join(import.meta.dirname, 'paper_models.json'), 'utf8'));
const names = positionals.length ? positionals : Object.keys(all).filter((n) => !n.startsWith('_'));
const backend = await openBackend(values.backend as BackendChoice);
const dtype = values.dtype as WeightDtype;
if (!['f32', 'bf16', 'f16', 'fp8'].includes(dtype)) throw new Error(`--dtype ${dtype}: f32, bf16, f16 or fp8`);

/**
 * Constant weights of a config's shapes, already in the dtype (0.02/√in per weight; FP8: e4m3 1.0 with that
 * scale; embeddings and lm_head in bf16 under FP8, as FP8 checkpoints keep them).
 */
function constantWeights(held: WeightDtype): WeightSource {
  const bf16One = 0x3f80;
  return {
    matrix: async (name: string, rows: number, cols: number): Promise<StoredMatrix> => {
      const value = 0.02 / Math.sqrt(cols);
      const linear = name.startsWith('model.layers.');
      const kind = held === 'fp8' && !linear ? 'bf16' : held;
      if (kind === 'fp8')
        return {
          kind,
          rows,
          cols,
          bytes: new Uint8Array(rows * cols).fill(0x38),
          scale: new Float32Array(rows).fill(value),
        };
      if (kind === 'f32') return { kind, rows, cols, data: new Float32Array(rows * cols).fill(value) };
      // bf16/f16: the bits of 1.0 would make every logit equal; the exact value does not matter for timing
      return { kind, rows, cols, bits: new Uint16Array(rows * cols).fill(kind === 'bf16' ? bf16One - 0x0a00 : 0x2000) };
    },
    vector: (_name: string, n: number) => new Float32Array(n).fill(1),
    headName: () => 'lm_head.weight',
    finish: () => {},
  };
}

const tiling = values['tiled-from'] === undefined ? {} : { tiledFrom: Number(values['tiled-from']) };

async function modelOf(config: ModelConfig): Promise<Model> {
  return new Transformer(config, await kernelsFor(backend, constantWeights(dtype), config, dtype, tiling));
}

const promptLen = Number(values.prompt),
  steps = Number(values.steps),
  batch = Number(values.batch);
const dir = mkdtempSync(join(tmpdir(), 'sizes-'));
const rows: string[] = [];
const GB = 1e9;
/** Models that ran, with what the PyTorch peer compares: whole-generation decode rate, batch-1 prefill rate. */
const ran: { name: string; dir: string; decode: number; prefill: number }[] = [];
for (const name of names) {
  const modelDir = join(dir, name);
  mkdirSync(modelDir);
  writeFileSync(join(modelDir, 'config.json'), JSON.stringify(all[name]));
  const config = loadModelConfig(modelDir);
  const bytes = backendWeightBytes(config, dtype);
  const head = `${name.padEnd(14)} ${(bytes / GB).toFixed(1).padStart(6)} GB`;
  const why = await backend.cannotHold(backend.kind === 'webgpu' ? bytes : backendWeightBytes(config)); // CPUs hold f32
  if (why) {
    rows.push(`${head}   refused up front: ${why}`);
    console.log(rows.at(-1));
    continue;
  }
  const t0 = performance.now();
  const prompt = (b: number) =>
    Array.from({ length: promptLen }, (_, i) => 3 + ((i * 7919 + b * 104729) % (config.vocabSize - 3)));
  let model: Model | null = null;
  try {
    model = await modelOf(config);
    await generate(model, [prompt(0).slice(0, 16)], { ...GREEDY, maxNewTokens: 2, stopIds: [] }); // warm-up: shaders
    const made = (performance.now() - t0) / 1000;
    const prompts = Array.from({ length: batch }, (_, b) => prompt(b));
    const g = await generate(model, prompts, { ...GREEDY, maxNewTokens: steps, stopIds: [] });
    const { dispatches } = model.usage();
    const prefill = (batch * promptLen) / (g.timings.prefillMs / 1000);
    const decode = (batch * (steps - 1)) / (g.timings.decodeMs / 1000);
    const perLayer = dispatches === null ? 'n/a' : (dispatches / steps / config.numLayers).toFixed(1);
    const shape = { promptTokens: promptLen, newTokens: steps };
    const modelled = runBytes(config, dtype, { ...shape, batch }).total;
    const byDefault = defaultGpuBatch(config, dtype, gpuBudget(null, model.weightBytes), shape);
    rows.push(
      `${head}   runs: prefill ${prefill.toFixed(0)} tok/s (${batch} × ${promptLen} tokens), decode ${decode.toFixed(1)} tok/s (batch ${batch}, ${steps} steps), ` +
        `dispatches per step per layer ${perLayer}, peak ${(g.memory.peakBytes / GB).toFixed(1)} GB (modelled ${(modelled / GB).toFixed(1)} GB)   [made + warm-up ${made.toFixed(0)} s]\n` +
        `${' '.repeat(head.length)}   default GPU batch here: ${byDefault.batch} (${byDefault.why})`,
    );
    const whole = (batch * steps) / ((g.timings.prefillMs + g.timings.decodeMs) / 1000);
    ran.push({ name, dir: modelDir, decode: whole, prefill: promptLen / (g.timings.prefillMs / 1000) });
  } catch (err) {
    rows.push(`${head}   failed: ${(err as Error).message.split('\n')[0]}`);
  }
  console.log(rows.at(-1));
  model?.dispose();
}
console.log(`\n${dtype} weights on the device; ${backend.description}`);
for (const r of rows) console.log(r);
backend.close();

const torchDevice = values['torch-device'];
if (torchDevice && ran.length && (dtype === 'f32' || dtype === 'bf16')) {
  const torchDtype = dtype === 'f32' ? 'float32' : 'bfloat16';
  console.log(
    `\nagainst PyTorch ${torchDtype} on ${torchDevice} (transformers generate, the same shapes, prompt and steps; tok/s)`,
  );
  console.log(
    `${'model'.padEnd(14)} ${'decode, batch'.padEnd(14)} ours    torch  ratio   prefill (batch 1) ours  torch  ratio`,
  );
  for (const r of ran) {
    const args = [join(import.meta.dirname, 'peer_torch.py'), r.dir, String(promptLen), String(steps), String(batch)];
    const peer = JSON.parse(
      execFileSync(
        values.python!,
        [...args, String(availableParallelism()), torchDevice, torchDtype, String(promptLen)],
        {
          encoding: 'utf8',
        },
      ),
    );
    const prefillCells =
      batch === 1
        ? `${r.prefill.toFixed(0).padStart(6)} ${peer.prefill_tok_s.toFixed(0).padStart(6)} ${(r.prefill / peer.prefill_tok_s).toFixed(2).padStart(6)}`
        : '(timed at batch 1 only)';
    console.log(
      `${r.name.padEnd(14)} ${String(batch).padEnd(14)} ${r.decode.toFixed(1).padStart(6)} ${peer.decode_tok_s.toFixed(1).padStart(7)} ${(r.decode / peer.decode_tok_s).toFixed(2).padStart(6)}   ${''.padEnd(17)} ${prefillCells}` +
        (peer.peak_bytes === null ? '' : `   [torch peak ${(peer.peak_bytes / GB).toFixed(1)} GB on ${peer.gpu}]`),
    );
  }
}
