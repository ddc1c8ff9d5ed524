// --dry-run of find-otd-latents: the work a run plans, counted from its options alone (responses to
// generate, the generated-token budget, the sequences captured and the batched forward passes).
import { generationSeconds, passSeconds, type StepTiming } from '../parallel/timing.ts';
import { durationText } from '../settings/dryRun.ts';
import type { DiscoveryOptions } from './options.ts';
import { discoveryDerangements } from './pairs.ts';

export interface DiscoveryWork {
  /** Responses generated (0 when they are given). */
  responses: number;
  /** At most this many generated tokens. */
  tokenBudget: number;
  /** Sequences captured: each prompt with its own response, and with K others' (the derangements). */
  samples: number;
  /** Batched forward passes, at most: generation (one prefill and one step per token, per batch) and capture. */
  forwardPasses: number;
}

const n = (x: number) => x.toLocaleString('en-US');

export function discoveryWork(o: DiscoveryOptions): DiscoveryWork {
  const p = o.prompts.length;
  const perms = discoveryDerangements(p, o.derangements, o.seed, o.holdout);
  const responses = o.responses ? 0 : p;
  const maxTokens = o.generation.maxNewTokens;
  const samples = p * (1 + perms.length);
  const batches = (x: number) => Math.ceil(x / o.batchSize);
  return {
    responses,
    tokenBudget: responses * maxTokens,
    samples,
    forwardPasses: batches(responses) * (1 + maxTokens) + batches(samples),
  };
}

/** The dry run's account of a discovery run: the planned work and the time at `timing`. */
export function discoveryPlanLines(o: DiscoveryOptions, w: DiscoveryWork, timing: StepTiming): string[] {
  const maxTokens = o.generation.maxNewTokens;
  const generation = generationSeconds(timing, w.responses, o.batchSize, maxTokens);
  const capture = passSeconds(timing, w.samples, o.batchSize, timing.promptTokens + maxTokens);
  return [
    'Planned work:',
    `  responses         ${o.responses ? `given (${o.prompts.length})` : `${n(w.responses)}, at most ${n(w.tokenBudget)} generated tokens (${maxTokens} each)`}`,
    `  captured          ${n(w.samples)} sequences (${o.prompts.length} prompts × (own response + ${w.samples / o.prompts.length - 1} others'))`,
    `  forward passes    at most ${n(w.forwardPasses)} batched passes of ${o.batchSize} sequences`,
    '  judge calls       none',
    'Estimate:',
    `  timed on this backend: a batch prefill ${(timing.prefill * 1000).toFixed(1)} ms, a decoding step ${(timing.step * 1000).toFixed(1)} ms (${timing.parallel} batch${timing.parallel > 1 ? 'es' : ''} at once)`,
    `  generation        at most ${durationText(generation)} (every response to ${maxTokens} tokens)`,
    `  capture           about ${durationText(capture)} (passes scaled from the timed prefill by length)`,
  ];
}
