// Capture: render each sample with the chat template, run the model to the feature layer (with any
// interventions), encode the residual stream with the SAE, and append sparse codes to an activation store.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { leftPad } from '../model/generate.ts';
import { locateChatSpans } from '../model/spans.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import type { ResidualHook, Transformer } from '../model/transformer.ts';
import { encodeSparse, type Sae } from '../sae/index.ts';
import type { CodeRows, SampleRow, StoreMeta } from '../store/schema.ts';
import { ActsWriter } from '../store/writer.ts';
import type { CaptureSample } from './samples.ts';

export interface CaptureModel {
  model: Transformer;
  tokenizer: Tokenizer;
  sae: Sae;
  /** Feature (read-out) layer: codes of resid_post.layer. */
  layer: number;
  /** Residual rewrites by layer (steering/ablation), applied before the read-out. */
  hooks?: Map<number, ResidualHook>;
}

export interface CaptureOptions {
  /** Samples per forward pass. */
  batchSize?: number;
  /** Everything that changes the codes (interventions, layer, …): a rerun into the same store must match. */
  settings: Record<string, unknown>;
  onBatch?: (done: number, total: number) => void;
}

/** A sample rendered and located: its token ids and token spans. */
export interface PreparedSample {
  sample: CaptureSample;
  ids: number[];
  response: [number, number];
  spans: Record<string, [number, number]>;
}

export function prepareSample(tokenizer: Tokenizer, s: CaptureSample): PreparedSample {
  try {
    const located = locateChatSpans(tokenizer, s.messages, s.spans);
    return { sample: s, ids: located.ids, response: located.response, spans: located.tokens };
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`sample ${s.id}: ${err.message}`);
    throw err;
  }
}

/**
 * Fixed batches over all samples (sorted by length, so little padding), independent of what is already done:
 * a resumed capture forms the same batches and skips the committed ones.
 */
export function planBatches(prepared: PreparedSample[], batchSize: number): PreparedSample[][] {
  const sorted = [...prepared].sort((a, b) => a.ids.length - b.ids.length || (a.sample.id < b.sample.id ? -1 : 1));
  const batches: PreparedSample[][] = [];
  for (let i = 0; i < sorted.length; i += batchSize) batches.push(sorted.slice(i, i + batchSize));
  return batches;
}

/** Runs one batch to the feature layer and returns its sparse code rows (sample = index in the batch). */
export function encodeBatch(cm: CaptureModel, batch: PreparedSample[]): CodeRows {
  const { ids, valid, width } = leftPad(batch.map((p) => p.ids));
  const cache = cm.model.newCache(batch.length);
  const { resid } = cm.model.forward(ids, valid, batch.length, cache, { stopAfterLayer: cm.layer, readLayers: [cm.layer], hooks: cm.hooks });
  cache.dispose();
  const all = resid.get(cm.layer)!;
  const d = all.shape[1];
  const full = all.dataSync() as Float32Array;
  all.dispose();
  // Keep only real tokens (drop the left padding) before encoding.
  const total = batch.reduce((a, p) => a + p.ids.length, 0);
  const rows = new Float32Array(total * d);
  let r = 0;
  batch.forEach((p, b) => {
    const first = b * width + width - p.ids.length;
    rows.set(full.subarray(first * d, (first + p.ids.length) * d), r * d);
    r += p.ids.length;
  });
  const h = tf.tensor2d(rows, [total, d]);
  const codes = encodeSparse(cm.sae, h);
  h.dispose();
  const n = codes.latents.length;
  const out: CodeRows = { sample: new Int32Array(n), token: new Int32Array(n), latent: codes.latents, value: codes.values };
  let row = 0;
  batch.forEach((p, b) => {
    for (let t = 0; t < p.ids.length; t++, row++) {
      for (let k = codes.rowPtr[row]; k < codes.rowPtr[row + 1]; k++) {
        out.sample[k] = b;
        out.token[k] = t;
      }
    }
  });
  return out;
}

export function sampleRow(p: PreparedSample, spanNames: string[]): SampleRow {
  return {
    id: p.sample.id,
    condition: p.sample.condition,
    prompt_id: p.sample.prompt_id,
    response_id: p.sample.response_id,
    n_tokens: p.ids.length,
    span_start: p.response[0],
    span_end: p.response[1],
    spans: Object.fromEntries(spanNames.map((n) => [n, p.spans[n] ?? null])),
  };
}

const SETTINGS_FILE = 'capture-settings.json';

/**
 * Captures every sample into the store at `dir`, resuming an interrupted capture (same settings) and
 * returning at once when the store is already complete.
 */
export async function capture(cm: CaptureModel, samples: CaptureSample[], dir: string, meta: StoreMeta, opts: CaptureOptions): Promise<{ captured: number; resumed: number }> {
  const settingsPath = join(dir, SETTINGS_FILE);
  const settings = JSON.stringify(opts.settings);
  if (existsSync(settingsPath) && readFileSync(settingsPath, 'utf8') !== settings) {
    throw new InputError(`${dir}: holds a capture made with other settings (see ${SETTINGS_FILE}); choose another output directory`);
  }
  if (existsSync(join(dir, 'meta.json'))) return { captured: 0, resumed: samples.length };
  const spanNames = [...new Set(samples.flatMap((s) => Object.keys(s.spans)))].sort();
  const prepared = samples.map((s) => prepareSample(cm.tokenizer, s));
  writeFileAtomic(settingsPath, settings);
  const writer = new ActsWriter(dir, spanNames);
  const resumed = writer.samplesWritten;
  const batches = planBatches(prepared, opts.batchSize ?? 8);
  let done = 0;
  for (const batch of batches) {
    done++;
    if (batch.every((p) => writer.has(p.sample.id))) continue;
    writer.append(batch.map((p) => sampleRow(p, spanNames)), encodeBatch(cm, batch));
    opts.onBatch?.(done, batches.length);
  }
  await writer.finalize(meta);
  return { captured: samples.length - resumed, resumed };
}
