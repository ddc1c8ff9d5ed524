// The work a model executor does, the same in-process and in a worker thread: plain data in, plain data out.
import * as tf from '@tensorflow/tfjs';
import { encodeSparse, type Sae } from '../sae/index.ts';
import { generate, leftPad, type Generation, type GenerateOptions } from '../model/generate.ts';
import type { Transformer } from '../model/transformer.ts';
import { rowInterventionHooks } from '../steering/interventions.ts';
import type { CodeRows } from '../store/schema.ts';
import type { Intervention } from '../steering/types.ts';

export interface Loaded {
  model: Transformer;
  sae: Sae | null;
}

/** Generation for a batch of prompts (token ids), each row with its own interventions and seed. */
export interface GenerateTask {
  kind: 'generate';
  prompts: number[][];
  options: Omit<GenerateOptions, 'hooks' | 'onStep'>;
  interventions?: Intervention[][];
}

/** SAE codes at `layer` for every real token of a batch of sequences (row r's codes have sample = r). */
export interface EncodeTask {
  kind: 'encode';
  sequences: number[][];
  layer: number;
  interventions?: Intervention[][];
}

export type Task = GenerateTask | EncodeTask;
export type TaskResult<T extends Task> = T extends GenerateTask ? Generation : CodeRows;

function hooksFor(loaded: Loaded, interventions: Intervention[][] | undefined, rows: number) {
  if (!interventions || interventions.every((l) => l.length === 0)) return undefined;
  if (!loaded.sae) throw new Error('interventions need an SAE');
  if (interventions.length !== rows)
    throw new RangeError(`${interventions.length} intervention lists for ${rows} rows`);
  return rowInterventionHooks(loaded.sae, interventions, loaded.model.config.numLayers);
}

function runGenerate(loaded: Loaded, t: GenerateTask): Promise<Generation> {
  return generate(loaded.model, t.prompts, {
    ...t.options,
    hooks: hooksFor(loaded, t.interventions, t.prompts.length),
  });
}

/** Runs a batch to the feature layer and encodes its real tokens (padding dropped) with the SAE. */
async function runEncode(loaded: Loaded, t: EncodeTask): Promise<CodeRows> {
  if (!loaded.sae) throw new Error('encoding needs an SAE');
  const { model, sae } = loaded;
  const rows = t.sequences.length;
  const { ids, valid, width } = leftPad(t.sequences);
  const cache = model.newCache(rows);
  const { resid } = await model.forward(ids, valid, rows, cache, {
    stopAfterLayer: t.layer,
    readLayers: [t.layer],
    hooks: hooksFor(loaded, t.interventions, rows),
  });
  cache.dispose();
  const all = resid.get(t.layer)!;
  const d = all.shape[1];
  const full = (await all.data()) as Float32Array;
  all.dispose();
  const total = t.sequences.reduce((a, s) => a + s.length, 0);
  const real = new Float32Array(total * d);
  let r = 0;
  t.sequences.forEach((s, b) => {
    const first = b * width + width - s.length;
    real.set(full.subarray(first * d, (first + s.length) * d), r * d);
    r += s.length;
  });
  const h = tf.tensor2d(real, [total, d]);
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

export function runTask(loaded: Loaded, t: Task): Promise<Generation | CodeRows> {
  return t.kind === 'generate' ? runGenerate(loaded, t) : runEncode(loaded, t);
}
