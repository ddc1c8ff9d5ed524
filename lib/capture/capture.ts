// Capture: render each sample with the chat template, run the model to the feature's hook point (with any
// interventions), encode the activation there with the SAE, and append sparse codes to an activation store.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { firstNonFinite } from '../io/dtype.ts';
import { withDirLock } from '../runs/lock.ts';
import { locateChatSpans } from '../model/spans.ts';
import { checkClaim } from '../runs/claim.ts';
import { type HookPoint, hookName } from '../model/hooks.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import { type Executor, runOrdered } from '../parallel/pool.ts';
import type { EncodeTask } from '../parallel/tasks.ts';
import { PARTS_DIR, type SampleRow, type StoreMeta } from '../store/schema.ts';
import type { Intervention } from '../steering/types.ts';
import { ActsWriter } from '../store/writer.ts';
import { openStore } from '../store/reader.ts';
import type { CaptureSample } from './samples.ts';
import { owns } from '../shards/partition.ts';
import type { ShardSpec } from '../shards/spec.ts';

export interface CaptureSetup {
  tokenizer: Tokenizer;
  /** The model's config, when known: each sample's length is checked against max_position_embeddings up front. */
  config?: { maxPositions: number };
  /** Runs the encode tasks: in this thread or on worker threads. */
  executor: Executor;
  /** Feature (read-out) hook point: the codes are the SAE's encoding of the activation there. */
  hook: HookPoint;
  /** Steering/ablation applied to every sample before the read-out. */
  interventions?: Intervention[];
}

export interface CaptureOptions {
  /** Samples per forward pass. */
  batchSize?: number;
  /** Everything that changes the codes (interventions, hook point, …): a rerun into the same store must match. */
  settings: Record<string, unknown>;
  /** Before the first batch: samples already in the store, and batches left to run. */
  onStart?: (info: { resumed: number; pending: number; batches: number }) => void;
  /** After each committed batch: its number (1-based, in the fixed plan) and the plan's size. */
  onBatch?: (done: number, total: number) => void;
  /**
   * Capture only this shard's batches of the fixed plan (batch i belongs to shard i mod N) and leave them as
   * parts, placed as in the whole store; `analyze merge` finalizes the shards' parts into the store. A shard
   * runs the very batches the unsharded capture runs, so its codes are the same numbers.
   */
  shard?: ShardSpec;
}

/** What a capture did; a shard's also lists its batches (plan index and sample ids) for shard.json. */
export interface CaptureResult {
  captured: number;
  resumed: number;
  batches?: { unit: number; records: string[] }[];
  /** Batches in the whole run's plan. */
  planned: number;
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

function sampleRow(p: PreparedSample, spanNames: string[]): SampleRow {
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

export const CAPTURE_SETTINGS_FILE = 'capture-settings.json';

/**
 * Captures every sample into the store at `dir`, resuming an interrupted capture (same settings) and
 * returning at once when the store is already complete. The store is locked: a second writer is refused.
 */
export async function capture(
  cs: CaptureSetup,
  samples: CaptureSample[],
  dir: string,
  meta: StoreMeta,
  opts: CaptureOptions,
): Promise<CaptureResult> {
  return withDirLock(dir, `activation store ${dir}`, () => captureLocked(cs, samples, dir, meta, opts));
}

async function captureLocked(
  cs: CaptureSetup,
  samples: CaptureSample[],
  dir: string,
  meta: StoreMeta,
  opts: CaptureOptions,
): Promise<CaptureResult> {
  const claim = checkClaim(dir, opts.settings, {
    file: CAPTURE_SETTINGS_FILE,
    what: 'a capture',
    // a capture with no committed batch has nothing to keep: another one may take the store over
    started: () =>
      existsSync(join(dir, 'meta.json')) ||
      (existsSync(join(dir, PARTS_DIR)) && readdirSync(join(dir, PARTS_DIR)).some((f) => f.endsWith('.samples.arrow'))),
  });
  if (existsSync(join(dir, 'meta.json'))) {
    const n = openStore(dir).samples.n; // checks the store's claimed count against its files
    if (n !== samples.length)
      throw new InputError(
        `${dir}: a complete store of ${n} samples, but ${samples.length} were given; choose another output directory`,
      );
    return { captured: 0, resumed: samples.length, planned: Math.ceil(samples.length / (opts.batchSize ?? 8)) };
  }
  const spanNames = [...new Set(samples.flatMap((s) => Object.keys(s.spans)))].sort();
  const prepared = samples.map((s) => prepareSample(cs.tokenizer, s));
  const limit = cs.config?.maxPositions;
  const long = limit === undefined ? undefined : prepared.find((p) => p.ids.length > limit);
  if (long)
    throw new InputError(
      `sample ${long.sample.id}: ${long.ids.length} tokens, past the model's max_position_embeddings (${limit}); shorten it`,
    );
  claim.record();
  const writer = new ActsWriter(dir, spanNames);
  const resumed = writer.samplesWritten;
  const batchSize = opts.batchSize ?? 8;
  const batches = planBatches(prepared, batchSize);
  const shard = opts.shard;
  const mine = batches.map((b, i) => ({ batch: b, number: i + 1 })).filter((_, i) => !shard || owns(shard, i));
  const todo = mine.filter(({ batch }) => !batch.every((p) => writer.has(p.sample.id)));
  opts.onStart?.({ resumed, pending: todo.length, batches: batches.length });
  const tasks: EncodeTask[] = todo.map(({ batch }) => ({
    kind: 'encode',
    hook: hookName(cs.hook),
    sequences: batch.map((p) => p.ids),
    interventions: batch.map(() => cs.interventions ?? []),
  }));
  await runOrdered(cs.executor, tasks, (codes, i) => {
    const bad = firstNonFinite(codes.value);
    if (bad >= 0)
      throw new Error(
        `sample ${todo[i].batch[codes.sample[bad]].sample.id}: a non-finite SAE code (NaN or Inf) at ${hookName(cs.hook)}: the activation overflowed (an extreme --steer value?); nothing of its batch was stored`,
      );
    const at = shard && { part: todo[i].number - 1, firstSample: (todo[i].number - 1) * batchSize };
    writer.append(
      todo[i].batch.map((p) => sampleRow(p, spanNames)),
      codes,
      at,
    );
    opts.onBatch?.(todo[i].number, batches.length);
  });
  const planned = batches.length;
  if (shard) {
    const own = mine.map(({ batch, number }) => ({ unit: number - 1, records: batch.map((p) => p.sample.id) }));
    const n = own.reduce((a, b) => a + b.records.length, 0);
    return { captured: n - resumed, resumed, batches: own, planned };
  }
  await writer.finalize(meta);
  return { captured: samples.length - resumed, resumed, planned };
}
