// bench/forward/memory: the table "largest model per GPU size" in docs/model.md, computed (not measured) from the
// paper's model shapes (paper_models.json) by lib/model/memory.ts, the arithmetic that matches the WebGPU
// runtime's allocations on Mesa (test/webgpu.test.ts). test/project/docs-memory-table.test.ts checks the docs
// hold exactly this output.
//   node --import tsx bench/forward/memory.ts
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadModelConfig, type ModelConfig } from '../../lib/model/config.ts';
import type { WeightDtype } from '../../lib/model/kernels.ts';
import { type RunShape, runBytes } from '../../lib/model/memory.ts';

export const TABLE_MODELS = ['Llama-3.1-8B', 'Gemma-2-9B', 'Gemma-2-27B', 'Llama-3.1-70B'];
export const GPU_GB = [24, 48, 80, 141];
/** The paper's generation: 32 sequences at once, 128-token prompts, 512 new tokens. */
export const SHAPE: RunShape = { batch: 32, promptTokens: 128, newTokens: 512 };
/** Share of a GPU's memory the run may take (the rest: driver, context, fragmentation). */
export const USABLE = 0.95;

function paperConfig(name: string): ModelConfig {
  const all = JSON.parse(readFileSync(join(import.meta.dirname, 'paper_models.json'), 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'esr-memory-'));
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(all[name]));
    return loadModelConfig(dir);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

/** The markdown table and its "largest per GPU size" line. */
export function memoryTable(): string {
  const gb = (n: number) => (n / 1e9).toFixed(1);
  const label = (name: string) => name.replace('Llama-3.1-70B', 'Llama-3.3-70B');
  const runs = TABLE_MODELS.flatMap((name) => {
    const c = paperConfig(name);
    return (['f32', 'bf16', 'fp8'] as WeightDtype[]).map((dtype) => {
      const r = runBytes(c, dtype, SHAPE);
      return { name: label(name), dtype, r, fits: GPU_GB.map((g) => r.total <= USABLE * g * 1e9) };
    });
  });
  const rows = [
    `| model | weights | weights GB | KV cache GB | activations GB | total GB | ${GPU_GB.map((g) => `${g} GB`).join(' | ')} |`,
    `|---|---|---|---|---|---|${GPU_GB.map(() => '---').join('|')}|`,
    ...runs.map(({ name, dtype, r, fits }) => {
      const cells = [name, dtype, gb(r.weights), gb(r.kvCache), gb(r.activations), gb(r.total)];
      return `| ${[...cells, ...fits.map((f) => (f ? 'fits' : '—'))].join(' | ')} |`;
    }),
  ];
  // per GPU: the last (largest) model with a run that fits, in its widest dtype that fits
  const best = GPU_GB.map((g, i) => {
    const fitting = runs.filter((x) => x.fits[i]);
    const last = fitting.at(-1)?.name;
    const pick = fitting.find((x) => x.name === last);
    return `${g} GB: ${pick ? `${pick.name} in ${pick.dtype}` : 'none of these'}`;
  });
  return `${rows.join('\n')}\n\nLargest that fits: ${best.join('; ')}.\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.stdout.write(memoryTable());
