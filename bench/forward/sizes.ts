// bench/forward/sizes: which of the paper's models (bench/forward/paper_models.json) fit the active backend's
// device, largest first refused up front as loadModel refuses it, and prefill/decode tokens/s of those that
// fit. Weights of each model's exact shapes are made on the device (constant values: the timing does not
// depend on them), split in blocks as loadWeights splits them; no checkpoint is read. Usage:
//   node --import tsx bench/forward/sizes.ts [--backend webgpu] [--prompt 128] [--steps 16] [MODEL …]
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { type BackendChoice, openBackend } from '../../lib/backend.ts';
import { loadModelConfig, type ModelConfig } from '../../lib/model/config.ts';
import { generate } from '../../lib/model/generate.ts';
import { backendWeightBytes } from '../../lib/model/load.ts';
import { GREEDY } from '../../lib/model/sampling.ts';
import { TfjsKernels } from '../../lib/model/tfjs/kernels.ts';
import { type Model, Transformer } from '../../lib/model/transformer.ts';
import type { Linear, ModelWeights } from '../../lib/model/tfjs/weights.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string', default: 'webgpu' },
    prompt: { type: 'string', default: '128' },
    steps: { type: 'string', default: '16' },
  },
});
const all: Record<string, object> = JSON.parse(readFileSync(join(import.meta.dirname, 'paper_models.json'), 'utf8'));
const names = positionals.length ? positionals : Object.keys(all).filter((n) => !n.startsWith('_'));
const backend = await openBackend(values.backend as BackendChoice);

const linear = (out: number, inDim: number): Linear => {
  const step = Math.max(1, Math.min(out, Math.floor(backend.maxBindingBytes / (4 * inDim))));
  const blocks: tf.Tensor2D[] = [];
  for (let o = 0; o < out; o += step)
    blocks.push(tf.fill([inDim, Math.min(step, out - o)], 0.02 / Math.sqrt(inDim)) as tf.Tensor2D);
  return { blocks, bias: null };
};
const ones = (d: number) => tf.ones([d]) as tf.Tensor1D;

function deviceWeights(c: ModelConfig): ModelWeights {
  const { hiddenSize: d, intermediateSize: ff, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: v } = c;
  const embed = new Float32Array(v * d);
  for (let i = 0; i < embed.length; i += 7) embed[i] = 0.05;
  const layers = Array.from({ length: c.numLayers }, () => ({
    inputNorm: ones(d),
    q: linear(h * hd, d),
    k: linear(kv * hd, d),
    v: linear(kv * hd, d),
    o: linear(d, h * hd),
    postAttnNorm: c.sandwichNorms ? ones(d) : null,
    preMlpNorm: ones(d),
    gate: linear(ff, d),
    up: linear(ff, d),
    down: linear(d, ff),
    postMlpNorm: c.sandwichNorms ? ones(d) : null,
  }));
  return { embed, layers, finalNorm: ones(d), lmHead: linear(v, d) };
}

const promptLen = Number(values.prompt),
  steps = Number(values.steps);
const dir = mkdtempSync(join(tmpdir(), 'sizes-'));
const rows: string[] = [];
for (const name of names) {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(all[name]));
  const config = loadModelConfig(dir);
  const gib = backendWeightBytes(config) / 2 ** 30;
  if (await backend.cannotHold(backendWeightBytes(config))) {
    rows.push(`${name.padEnd(14)} ${gib.toFixed(1).padStart(7)} GiB   refused up front (does not fit)`);
    console.log(rows.at(-1));
    continue;
  }
  const t0 = performance.now();
  const ids = Array.from({ length: promptLen }, (_, i) => 3 + ((i * 7919) % (config.vocabSize - 3)));
  let model: Model | null = null;
  try {
    model = new Transformer(config, new TfjsKernels(config, deviceWeights(config), 'f32'));
    await generate(model, [ids.slice(0, 16)], { ...GREEDY, maxNewTokens: 2, stopIds: [] }); // warm-up: shaders
    const made = (performance.now() - t0) / 1000;
    const g = await generate(model, [ids], { ...GREEDY, maxNewTokens: steps, stopIds: [] });
    const prefill = promptLen / (g.timings.prefillMs / 1000);
    const decode = (steps - 1) / (g.timings.decodeMs / 1000);
    rows.push(
      `${name.padEnd(14)} ${gib.toFixed(1).padStart(7)} GiB   runs: prefill ${prefill.toFixed(0)} tok/s (${promptLen} tokens), decode ${decode.toFixed(1)} tok/s (batch 1)   [made + warm-up ${made.toFixed(0)} s]`,
    );
  } catch (err) {
    rows.push(
      `${name.padEnd(14)} ${gib.toFixed(1).padStart(7)} GiB   failed: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  console.log(rows.at(-1));
  model?.dispose();
}
console.log(`\nf32 weights on the device; ${backend.description}`);
for (const r of rows) console.log(r);
backend.close();
