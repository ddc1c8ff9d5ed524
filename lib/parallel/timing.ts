// A few timed generation steps of full batches, for --dry-run's time estimate: what one prefill and one
// decoding step cost on this backend, with this model, at this batch size and number of workers.
import { type Executor, generateRows } from './pool.ts';

export interface StepTiming {
  /** One prefill of a full batch of the prompts, seconds. */
  prefill: number;
  /** One decoding step of a full batch, seconds. */
  step: number;
  /** Batches decoded at once (one per worker thread). */
  parallel: number;
  /** Mean length of the timed prompts, tokens. */
  promptTokens: number;
}

/**
 * Times full batches of `prompts` (token ids, repeated to fill every worker's batch): `short` and
 * `short + steps` new tokens with no stop token, after a warm-up; the difference gives a decoding step, the
 * rest a prefill.
 */
export async function timeSteps(
  executor: Executor,
  prompts: number[][],
  batchSize: number,
  steps = 8,
): Promise<StepTiming> {
  const parallel = executor.size;
  const rows = Array.from({ length: batchSize * parallel }, (_, i) => ({
    prompt: prompts[i % prompts.length],
    seed: i,
  }));
  const sampling = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 };
  const run = async (maxNewTokens: number) => {
    const started = performance.now();
    await generateRows(executor, rows, { ...sampling, maxNewTokens, stopIds: [], batch: batchSize }, () => {});
    return (performance.now() - started) / 1000;
  };
  const short = 2;
  await run(short); // warm-up: kernels compiled, buffers allocated
  const a = await run(short);
  const b = await run(short + steps);
  const step = Math.max(0, (b - a) / steps);
  const promptTokens = rows.reduce((t, r) => t + r.prompt.length, 0) / rows.length;
  return { prefill: Math.max(0, a - short * step), step, parallel, promptTokens };
}

/** Seconds to generate `responses` responses of at most `maxTokens` tokens at this timing. */
export function generationSeconds(t: StepTiming, responses: number, batchSize: number, maxTokens: number): number {
  return Math.ceil(responses / (batchSize * t.parallel)) * (t.prefill + maxTokens * t.step);
}

/** Seconds for `sequences` single forward passes of `tokens` tokens each, scaling the timed prefill by length. */
export function passSeconds(t: StepTiming, sequences: number, batchSize: number, tokens: number): number {
  return Math.ceil(sequences / (batchSize * t.parallel)) * t.prefill * (tokens / Math.max(1, t.promptTokens));
}
