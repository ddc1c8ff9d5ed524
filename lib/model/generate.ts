import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { nextToken, type SamplingOptions } from './sampling.ts';
import type { ResidualHook, Transformer } from './transformer.ts';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** One seed per prompt: each row samples from its own stream, so results do not depend on batching. */
  seeds?: number[];
  /** Token ids that end a row (the model's EOS ids by default). */
  stopIds?: number[];
  hooks?: Map<number, ResidualHook>;
  /** Called after each decode step with the number of rows still running. */
  onStep?: (step: number, running: number) => void;
}

export interface Generation {
  /** Generated ids per prompt, including the stop token when one was produced. */
  tokens: number[][];
  stopped: boolean[];
  timings: { prefillMs: number; decodeMs: number; promptTokens: number; generatedTokens: number };
}

/** Left-pads rows to one length: returns ids and the validity mask, row-major. */
export function leftPad(rows: number[][], padId = 0): { ids: Int32Array; valid: Uint8Array; width: number } {
  const width = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * width).fill(padId);
  const valid = new Uint8Array(rows.length * width);
  rows.forEach((r, b) => {
    ids.set(r, b * width + width - r.length);
    valid.fill(1, b * width + width - r.length, (b + 1) * width);
  });
  return { ids, valid, width };
}

/** Each prompt plus the tokens to generate must fit the model's positions: checked before any work. */
export function checkGenerationLength(prompts: number[][], maxNewTokens: number, maxPositions: number): void {
  prompts.forEach((p, i) => {
    if (p.length + maxNewTokens > maxPositions) {
      throw new InputError(
        `prompt ${i}: ${p.length} tokens + ${maxNewTokens} new tokens is past the model's max_position_embeddings (${maxPositions}); shorten it or lower --max-tokens`,
      );
    }
  });
}

/**
 * Batched generation: one prefill over the left-padded prompts, then one token per row per step through the
 * KV cache. Finished rows feed padding, which no other row attends to.
 */
export async function generate(model: Transformer, prompts: number[][], opts: GenerateOptions): Promise<Generation> {
  checkGenerationLength(prompts, opts.maxNewTokens, model.config.maxPositions);
  const batch = prompts.length;
  const vocab = model.config.vocabSize;
  const stop = new Set(opts.stopIds ?? model.config.eosTokenIds);
  const rngs = prompts.map((_, b) => (opts.temperature > 0 ? new Rng(opts.seeds?.[b] ?? 0) : null));
  const seen = prompts.map((p) => [...p]);
  const out: number[][] = prompts.map(() => []);
  const stopped = new Array<boolean>(batch).fill(false);
  const cache = model.newCache(batch);

  const t0 = performance.now();
  const { ids, valid } = leftPad(prompts);
  let { logits } = await model.forward(ids, valid, batch, cache, { logits: 'last', hooks: opts.hooks });
  const t1 = performance.now();
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const all = (await logits!.data()) as Float32Array;
      logits!.dispose();
      const stepIds = new Int32Array(batch);
      const stepValid = new Uint8Array(batch);
      for (let b = 0; b < batch; b++) {
        if (stopped[b]) continue;
        const id = nextToken(all.subarray(b * vocab, (b + 1) * vocab), seen[b], opts, rngs[b]);
        out[b].push(id);
        seen[b].push(id);
        stepIds[b] = id;
        stepValid[b] = 1;
        if (stop.has(id)) stopped[b] = true;
      }
      const running = stopped.filter((s) => !s).length;
      opts.onStep?.(step + 1, running);
      if (running === 0 || step === opts.maxNewTokens - 1) {
        logits = null;
        break;
      }
      // Rows that just stopped still need no more input; their slot is padding.
      for (let b = 0; b < batch; b++) if (stopped[b]) stepValid[b] = 0;
      ({ logits } = await model.forward(stepIds, stepValid, batch, cache, { logits: 'last', hooks: opts.hooks }));
    }
  } finally {
    logits?.dispose();
    cache.dispose();
  }
  const t2 = performance.now();
  return {
    tokens: out,
    stopped,
    timings: {
      prefillMs: t1 - t0,
      decodeMs: t2 - t1,
      promptTokens: prompts.reduce((a, p) => a + p.length, 0),
      generatedTokens: out.reduce((a, o) => a + o.length, 0),
    },
  };
}
