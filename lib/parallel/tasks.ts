// The work a model executor does, the same in-process and in a worker thread: plain data in, plain data out.
import { encodeSparse, type Sae } from '../sae/index.ts';
import { type GeneratedRow, generate, type Generation, type GenerateOptions } from '../model/generate.ts';
import type { Model } from '../model/transformer.ts';
import { rowInterventionHooks } from '../steering/interventions.ts';
import type { CodeRows } from '../store/schema.ts';
import type { Intervention } from '../steering/types.ts';

export interface Loaded {
  model: Model;
  sae: Sae | null;
}

/**
 * Generation for prompts (token ids), each with its own interventions and seed, continuously batched over
 * `options.batch` KV cache slots.
 */
export interface GenerateTask {
  kind: 'generate';
  prompts: number[][];
  options: Omit<GenerateOptions, 'hooks' | 'onStep' | 'onRow'>;
  interventions?: Intervention[][];
}

/** Called as each prompt of a generate task finishes (index within the task). */
export type OnRow = (index: number, row: GeneratedRow) => void;

/** SAE codes at hook point `hook` (a hook name) for every real token of a batch of sequences (row r's codes have sample = r). */
export interface EncodeTask {
  kind: 'encode';
  sequences: number[][];
  hook: string;
  interventions?: Intervention[][];
}

export type Task = GenerateTask | EncodeTask;
export type TaskResult<T extends Task> = T extends GenerateTask ? Generation : CodeRows;

function hooksFor(loaded: Loaded, interventions: Intervention[][] | undefined, rows: number) {
  if (!interventions || interventions.every((l) => l.length === 0)) return undefined;
  if (!loaded.sae) throw new Error('interventions need an SAE');
  if (interventions.length !== rows)
    throw new RangeError(`${interventions.length} intervention lists for ${rows} rows`);
  return rowInterventionHooks(loaded.sae, interventions, loaded.model.config);
}

function runGenerate(loaded: Loaded, t: GenerateTask, onRow?: OnRow): Promise<Generation> {
  return generate(loaded.model, t.prompts, {
    ...t.options,
    hooks: hooksFor(loaded, t.interventions, t.prompts.length),
    onRow,
  });
}

/** Runs a batch to the feature's hook point (its sequences packed, each in its own cache slot) and encodes every token with the SAE. */
async function runEncode(loaded: Loaded, t: EncodeTask): Promise<CodeRows> {
  if (!loaded.sae) throw new Error('encoding needs an SAE');
  const { model, sae } = loaded;
  const rows = t.sequences.length;
  const cache = model.newCache(rows, Math.max(...t.sequences.map((s) => s.length)));
  const { acts } = await model
    .forward(t.sequences, cache, {
      logits: 'none',
      read: [t.hook],
      hooks: hooksFor(loaded, t.interventions, rows),
    })
    .finally(() => cache.dispose());
  const h = acts.get(t.hook)!;
  const codes = await encodeSparse(sae, h);
  h.dispose();
  const out: CodeRows = {
    sample: new Int32Array(codes.latents.length),
    token: new Int32Array(codes.latents.length),
    latent: codes.latents,
    value: codes.values,
  };
  let row = 0;
  t.sequences.forEach((s, b) => {
    for (let tok = 0; tok < s.length; tok++, row++) {
      out.sample.fill(b, codes.rowPtr[row], codes.rowPtr[row + 1]);
      out.token.fill(tok, codes.rowPtr[row], codes.rowPtr[row + 1]);
    }
  });
  return out;
}

export function runTask(loaded: Loaded, t: Task, onRow?: OnRow): Promise<Generation | CodeRows> {
  return t.kind === 'generate' ? runGenerate(loaded, t, onRow) : runEncode(loaded, t);
}
