import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { NON_FINITE_TOKEN } from './kernels.ts';
import type { SamplingOptions } from './sampling.ts';
import type { ActivationHook } from './sites.ts';
import type { Model } from './transformer.ts';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** One seed per prompt: each row samples from its own stream, so results do not depend on batching. */
  seeds?: number[];
  /** Token ids that end a row (the model's EOS ids by default). */
  stopIds?: number[];
  /** Forward hooks by hook point name (lib/model/sites.ts), applied at every step; they see each row's prompt index as its tag. */
  hooks?: Map<string, ActivationHook>;
  /**
   * Sequences decoded at once (KV cache slots, default all prompts): when one finishes, the next prompt takes
   * its slot. A prompt's tokens do not depend on this number, nor on which prompts share its steps.
   */
  batch?: number;
  /** Called as each prompt's generation finishes (in the order they finish). */
  onRow?: (index: number, row: GeneratedRow) => void;
  /** Called after each step with the number of prompts finished. */
  onStep?: (step: number, finished: number) => void;
}

export interface GeneratedRow {
  /** Generated ids, including the stop token when one was produced. */
  tokens: number[];
  stopped: boolean;
  /**
   * The step at which the row's logits were not finite (NaN/Inf: the residual stream overflowed, from an
   * extreme steering value), else -1. Such a row stops there: its tokens are not an answer.
   */
  nonFinite: number;
}

export interface Generation {
  /** Generated ids per prompt, including the stop token when one was produced. */
  tokens: number[][];
  stopped: boolean[];
  /** Per prompt, GeneratedRow.nonFinite. */
  nonFinite: number[];
  /** Steps that carried prompt tokens count as prefill; the others as decode. */
  timings: { prefillMs: number; decodeMs: number; promptTokens: number; generatedTokens: number };
  /** Device bytes: the weights', and the most held during the generation (weights, KV cache, activations). */
  memory: { weightsBytes: number; peakBytes: number };
}

/** Each prompt plus the tokens to generate must fit the model's positions: checked before any work. */
export function checkGenerationLength(prompts: number[][], maxNewTokens: number, maxPositions: number): void {
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new InputError(`prompt ${i}: no tokens`);
    if (p.length + maxNewTokens > maxPositions) {
      throw new InputError(
        `prompt ${i}: ${p.length} tokens + ${maxNewTokens} new tokens is past the model's max_position_embeddings (${maxPositions}); shorten it or lower --max-tokens`,
      );
    }
  });
}

/** One prompt being generated: its sampling stream and what it feeds next. */
interface Running {
  index: number;
  rng: Rng | null;
  out: number[];
  next: number[];
}

/**
 * Continuous batching: `batch` KV cache slots, each holding one prompt's sequence. Every step feeds each
 * occupied slot its pending tokens (a new prompt's whole prompt, else its last sampled token), samples one
 * token per slot, and frees the slots whose prompt stopped (a stop id, or maxNewTokens) for the next queued
 * prompt. Each prompt samples from its own seeded stream and attends to its own slot only.
 */
export async function generate(model: Model, prompts: number[][], opts: GenerateOptions): Promise<Generation> {
  checkGenerationLength(prompts, opts.maxNewTokens, model.config.maxPositions);
  const N = prompts.length;
  const out: number[][] = prompts.map(() => []);
  const stopped = new Array<boolean>(N).fill(false);
  const nonFinite = new Array<number>(N).fill(-1);
  const timings = { prefillMs: 0, decodeMs: 0, promptTokens: 0, generatedTokens: 0 };
  const memory = () => ({ weightsBytes: model.weightBytes, peakBytes: model.usage().peakBytes });
  model.resetUsage();
  if (N === 0 || opts.maxNewTokens === 0) return { tokens: out, stopped, nonFinite, timings, memory: memory() };
  const slots = Math.max(1, Math.min(opts.batch ?? N, N));
  const capacity = Math.max(...prompts.map((p) => p.length)) + opts.maxNewTokens;
  const stop = new Set(opts.stopIds ?? model.config.eosTokenIds);
  const cache = model.newCache(slots, capacity);
  const inSlot: (Running | null)[] = new Array(slots).fill(null);
  let queued = 0;
  let finished = 0;
  try {
    for (let step = 1; finished < N; step++) {
      for (let s = 0; s < slots && queued < N; s++) {
        if (inSlot[s]) continue;
        const i = queued++;
        cache.reset(s);
        inSlot[s] = {
          index: i,
          rng: opts.temperature > 0 ? new Rng(opts.seeds?.[i] ?? 0) : null,
          out: out[i],
          next: prompts[i],
        };
      }
      const live = inSlot.flatMap((r, s) => (r ? [{ r, s }] : []));
      const prefill = live.some(({ r }) => r.out.length === 0);
      const t0 = performance.now();
      const { tokens } = await model.forward(
        live.map(({ r }) => r.next),
        cache,
        {
          slots: live.map(({ s }) => s),
          tags: live.map(({ r }) => r.index),
          hooks: opts.hooks,
          sample: live.map(({ r }) => ({ opts, u: r.rng ? r.rng.float() : 0 })),
        },
      );
      live.forEach(({ r, s }, j) => {
        const id = tokens![j];
        const bad = id === NON_FINITE_TOKEN;
        if (bad) nonFinite[r.index] = r.out.length;
        else {
          r.out.push(id);
          r.next = [id];
        }
        const done = !bad && stop.has(id);
        if (bad || done || r.out.length === opts.maxNewTokens) {
          stopped[r.index] = done;
          inSlot[s] = null;
          finished++;
          opts.onRow?.(r.index, { tokens: r.out, stopped: done, nonFinite: nonFinite[r.index] });
        }
      });
      timings[prefill ? 'prefillMs' : 'decodeMs'] += performance.now() - t0;
      opts.onStep?.(step, finished);
    }
  } finally {
    cache.dispose();
  }
  timings.promptTokens = prompts.reduce((a, p) => a + p.length, 0);
  timings.generatedTokens = out.reduce((a, o) => a + o.length, 0);
  return { tokens: out, stopped, nonFinite, timings, memory: memory() };
}
