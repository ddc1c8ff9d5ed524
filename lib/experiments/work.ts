// --dry-run of ablate: the work a run plans, counted from its settings alone (responses, the generated-token
// budget, batched forward passes, judge calls and tokens), and a time estimate from a few timed generation
// steps of full batches on the session's backend.
import { loadJudgePrompt } from '../judge/prompt.ts';
import { generationSeconds, type StepTiming, timeSteps } from '../parallel/timing.ts';
import type { Session } from '../session.ts';
import { durationText } from '../settings/dryRun.ts';
import { shardUnitCount, shardUnits } from '../shards/partition.ts';
import { type ShardSpec, shardText } from '../shards/spec.ts';
import { condition } from './conditions.ts';
import type { AblationSetup } from './config.ts';
import { renderPrompt } from './steered.ts';

export interface AblationWork {
  /** Features steered; when sampled, the number asked for (the pool may hold fewer: then all of them). */
  features: number;
  sampled: boolean;
  /** Trials planned: features × draws × (steered conditions × sweep levels + unsteered conditions). */
  trials: number;
  /** Responses generated and judged by calibration (features × steps × per step; fewer when cached). */
  calibration: number;
  /** Every response: trials and calibration. */
  responses: number;
  /** At most this many generated tokens (every response running to the length limit). */
  tokenBudget: number;
  /** Batched forward passes, at most: generation (one prefill and one step per token, per batch) and prompt scans. */
  forwardPasses: number;
  judgeCalls: number;
  /** Tokens sent to and returned by a remote judge, estimated at 4 characters a token; null for an offline judge. */
  judgeTokens: { input: number; output: number } | null;
}

/** Characters per token, the usual rule of thumb for English text (the judge's own tokenizer is not at hand). */
const CHARS_PER_TOKEN = 4;
/** The judge's reply restates each attempt with its score: about the response plus this much. */
const JUDGE_REPLY_OVERHEAD = 100;

/** The setup as `shard` runs it: its steering features only (of a sample: its share of the sample). */
export function shardSetup(s: AblationSetup, shard: ShardSpec): AblationSetup {
  const features = Array.isArray(s.features)
    ? shardUnits(s.features, shard)
    : { ...s.features, sample: shardUnitCount(s.features.sample, shard) };
  return { ...s, features };
}

/** The work a run with this setup plans (before any model is opened). */
export function ablationWork(s: AblationSetup): AblationWork {
  const sampled = !Array.isArray(s.features);
  const features = Array.isArray(s.features) ? s.features.length : s.features.sample;
  const steered = s.conditions.filter((c) => condition(c).steered).length;
  const levels = s.strength.kind === 'calibrate' && s.strength.sweep ? s.strength.sweep.k : 1;
  const trials = features * s.trialsPerFeature * (steered * levels + (s.conditions.length - steered));
  const calibration =
    s.strength.kind === 'calibrate' && steered > 0 ? features * s.strength.steps * s.strength.perStep : 0;
  const responses = trials + calibration;
  const maxTokens = s.sampling.maxNewTokens;
  const batches = (n: number) => Math.ceil(n / s.batchSize);
  const scans =
    (s.strength.kind === 'calibrate' || sampled ? batches(s.prompts.length) : 0) +
    (Array.isArray(s.features) ? 0 : batches(s.features.generalText.texts.length));
  const remote = s.judge.provenance.backend === 'anthropic' || s.judge.provenance.backend === 'openai';
  let judgeTokens: AblationWork['judgeTokens'] = null;
  if (remote) {
    const template = loadJudgePrompt(s.settings.values.judgePrompt).template;
    const meanPrompt = s.prompts.reduce((a, p) => a + p.length, 0) / s.prompts.length;
    const perCall = (template.length + meanPrompt) / CHARS_PER_TOKEN + maxTokens;
    judgeTokens = {
      input: Math.round(responses * perCall),
      output: Math.round(responses * (maxTokens + JUDGE_REPLY_OVERHEAD)),
    };
  }
  return {
    features,
    sampled,
    trials,
    calibration,
    responses,
    tokenBudget: responses * maxTokens,
    forwardPasses: batches(trials) * (1 + maxTokens) + batches(calibration) * (1 + maxTokens) + scans,
    judgeCalls: responses,
    judgeTokens,
  };
}

const n = (x: number) => x.toLocaleString('en-US');

/** The dry run's account of an ablation: the planned work, the time at `timing`, the judge cost at `price` ($ per million tokens in, out). */
export function ablationPlanLines(
  s: AblationSetup,
  w: AblationWork,
  timing: StepTiming,
  price: [number, number] | null,
  shard?: ShardSpec,
): string[] {
  const maxTokens = s.sampling.maxNewTokens;
  const generation = generationSeconds(timing, w.responses, s.batchSize, maxTokens);
  const lines = [
    shard
      ? `Planned work of shard ${shardText(shard)} (steering features i with i mod ${shard.count} = ${shard.index}):`
      : 'Planned work:',
    `  features          ${n(w.features)}${w.sampled ? ' (sampled from the steering pool; all of it when it holds fewer)' : ''}`,
    `  trials            ${n(w.trials)} (conditions ${s.conditions.join(', ')}; ${s.trialsPerFeature} draws per feature)`,
    `  calibration       ${n(w.calibration)} responses${s.strength.kind === 'calibrate' && w.calibration ? ` (${s.strength.steps} steps × ${s.strength.perStep} per feature; cached ones are not redone)` : ''}`,
    `  responses         ${n(w.responses)}, at most ${n(w.tokenBudget)} generated tokens (${maxTokens} each)`,
    `  forward passes    at most ${n(w.forwardPasses)} batched passes of ${s.batchSize} sequences`,
    `  judge calls       ${n(w.judgeCalls)} (${s.judge.provenance.id})`,
  ];
  if (w.judgeTokens)
    lines.push(
      `  judge tokens      about ${n(w.judgeTokens.input)} in, at most ${n(w.judgeTokens.output)} out (4 characters a token)`,
    );
  lines.push(
    'Estimate:',
    `  timed on this backend: a batch prefill ${(timing.prefill * 1000).toFixed(1)} ms, a decoding step ${(timing.step * 1000).toFixed(1)} ms (${timing.parallel} batch${timing.parallel > 1 ? 'es' : ''} at once)`,
    `  generation        at most ${durationText(generation)} (every response to ${maxTokens} tokens; EOS ends most sooner)`,
  );
  if (w.judgeTokens && price) {
    const cost = (w.judgeTokens.input * price[0] + w.judgeTokens.output * price[1]) / 1e6;
    lines.push(
      `  judge cost        about $${cost.toFixed(2)} at $${price[0]} / $${price[1]} per million tokens in / out`,
    );
  } else if (w.judgeTokens) {
    lines.push('  judge cost        give --judge-price IN,OUT (per million tokens) for an estimate');
  } else lines.push('  judge             offline: no cost');
  return lines;
}

/** Times full batches of the setup's prompts on the session (see timeSteps). */
export function timeAblationSteps(session: Session, s: Pick<AblationSetup, 'prompts' | 'batchSize'>) {
  const prompts = s.prompts.slice(0, s.batchSize).map((p) => renderPrompt(session.tokenizer, p, null));
  return timeSteps(session.executor, prompts, s.batchSize);
}
