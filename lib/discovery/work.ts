// --dry-run of find-otd-latents: the work a run plans, counted from its options alone (responses to
// generate, the generated-token budget, the sequences captured and the batched forward passes).
import { generationSeconds, passSeconds, type StepTiming } from '../parallel/timing.ts';
import { durationText } from '../settings/dryRun.ts';
import { shardUnitCount } from '../shards/partition.ts';
import { type ShardSpec, shardText } from '../shards/spec.ts';
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
  /** Capture batches run, and of how many in the run's fixed plan. */
  batches: number;
  plannedBatches: number;
}

const n = (x: number) => x.toLocaleString('en-US');

/** The work of the whole run, or of one shard of it (its prompts' responses, its batches of the capture plan). */
export function discoveryWork(o: DiscoveryOptions, shard?: ShardSpec): DiscoveryWork {
  const p = o.prompts.length;
  const perms = discoveryDerangements(p, o.derangements, o.seed, o.holdout);
  const count = (units: number) => (shard ? shardUnitCount(units, shard) : units);
  const responses = o.responses ? 0 : count(p);
  const maxTokens = o.generation.maxNewTokens;
  const all = p * (1 + perms.length);
  const plannedBatches = Math.ceil(all / o.batchSize);
  const batches = count(plannedBatches);
  // every batch is full but the plan's last, which is a shard's when the shard holds the last batch index
  const last = all - (plannedBatches - 1) * o.batchSize;
  const holdsLast = !shard || (plannedBatches - 1) % shard.count === shard.index;
  const samples = batches * o.batchSize - (holdsLast && batches ? o.batchSize - last : 0);
  return {
    responses,
    tokenBudget: responses * maxTokens,
    samples,
    forwardPasses: Math.ceil(responses / o.batchSize) * (1 + maxTokens) + batches,
    batches,
    plannedBatches,
  };
}

/** The dry run's account of a discovery run (or of `shard` of it): the planned work and the time at `timing`. */
export function discoveryPlanLines(
  o: DiscoveryOptions,
  w: DiscoveryWork,
  timing: StepTiming,
  shard?: ShardSpec,
): string[] {
  const maxTokens = o.generation.maxNewTokens;
  const generation = generationSeconds(timing, w.responses, o.batchSize, maxTokens);
  const capture = passSeconds(timing, w.samples, o.batchSize, timing.promptTokens + maxTokens);
  const others = o.prompts.length ? w.samples / o.prompts.length - 1 : 0;
  return [
    shard ? `Planned work of shard ${shardText(shard)}:` : 'Planned work:',
    `  responses         ${o.responses ? `given (${o.prompts.length})` : `${n(w.responses)}${shard ? ` (prompts i with i mod ${shard.count} = ${shard.index}, of ${o.prompts.length})` : ''}, at most ${n(w.tokenBudget)} generated tokens (${maxTokens} each)`}`,
    `  captured          ${n(w.samples)} sequences (${shard ? `capture batches i with i mod ${shard.count} = ${shard.index}: ${w.batches} of ${w.plannedBatches}` : `${o.prompts.length} prompts × (own response + ${others} others')`})`,
    `  forward passes    at most ${n(w.forwardPasses)} batched passes of ${o.batchSize} sequences`,
    '  judge calls       none',
    'Estimate:',
    `  timed on this backend: a batch prefill ${(timing.prefill * 1000).toFixed(1)} ms, a decoding step ${(timing.step * 1000).toFixed(1)} ms (${timing.parallel} batch${timing.parallel > 1 ? 'es' : ''} at once)`,
    `  generation        at most ${durationText(generation)} (every response to ${maxTokens} tokens)`,
    `  capture           about ${durationText(capture)} (passes scaled from the timed prefill by length)`,
  ];
}
