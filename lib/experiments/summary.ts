// summary.md of an ablation run: what was run on what, where the ablated latents came from, the
// metrics tables, judge failures, and the calibrated strengths.
import { markdownTable } from '../io/markdown.ts';
import { hookName } from '../model/hooks.ts';
import type { JudgeStats } from '../judge/index.ts';
import { boundOf, type Calibration } from './calibrate.ts';
import { type ConditionResources, condition } from './conditions.ts';
import type { Feature, SteeringPool } from './features.ts';
import { examplesMarkdown, pickExamples } from '../trials/examples.ts';
import { metricsText, proportionTable } from '../trials/report.ts';
import type { MetricsReport } from '../trials/metrics.ts';
import type { Trial } from '../trials/types.ts';
import type { AblationOptions, AblationResult } from './config.ts';

/** The options summary.md shows (plain data: a merged run has them from shard.json). */
export type SummaryOptions = Pick<
  AblationOptions,
  'paths' | 'steerHook' | 'clampHook' | 'trialsPerFeature' | 'prompts' | 'seed' | 'conditions' | 'sampling' | 'strength'
> & {
  latents: Pick<AblationOptions['latents'], 'latents' | 'source' | 'notSelected'>;
  judge: Pick<AblationOptions['judge'], 'provenance'>;
};

/** What summary.md says of the steering pool. */
export type SummaryPool = Pick<SteeringPool, 'rule' | 'counts'>;

export interface SummaryInput {
  o: SummaryOptions;
  features: Feature[];
  resources: ConditionResources;
  calibrations: Map<number, Calibration>;
  /** A finished run's (its metrics computed). */
  result: AblationResult & { report: MetricsReport };
  judgeStats: JudgeStats;
  /** The pool the features were sampled from; null when they were given (--features). */
  pool: SummaryPool | null;
  /** The run's trials (the examples are picked from them). */
  trials: Trial[];
}

/** Example responses per condition in summary.md (the report shows more: analyze report --examples N). */
export const SUMMARY_EXAMPLES = 2;

export function summaryMarkdown({
  o,
  features,
  resources,
  calibrations,
  result,
  judgeStats,
  pool,
  trials,
}: SummaryInput): string {
  const j = o.judge.provenance;
  const lines = [
    '# Ablation run',
    '',
    `Model \`${o.paths.model}\`, SAE \`${o.paths.sae}\`; steering at ${hookName(o.steerHook)}, clamps at ${hookName(o.clampHook)} (SAE error term kept).`,
    `${features.length} features × ${o.trialsPerFeature} (prompt, seed) draws from ${o.prompts.length} prompts (\`${o.paths.prompts}\`), seed ${o.seed}; conditions ${o.conditions.join(', ')}, every one on the same draws.`,
    `Sampling: temperature ${o.sampling.temperature}, repetition penalty ${o.sampling.repetitionPenalty}, top-k ${o.sampling.topK || 'off'}, top-p ${o.sampling.topP}, ≤ ${o.sampling.maxNewTokens} new tokens.`,
    pool
      ? `Steering features: ${features.length} sampled (seed ${o.seed}) from a pool of ${pool.counts.pool}: ${pool.rule} (${pool.counts.silent_on_prompts} silent on the prompts, ${pool.counts.alive_on_general_text} of them alive on general text${pool.counts.labelled === null ? '' : `, ${pool.counts.labelled} labelled`}); details in steering_pool.json.`
      : `Steering features: given (${features.length}).`,
    `Ablated: ${o.latents.latents.length} latents from ${o.latents.source}: ${o.latents.latents.join(', ')}.`,
  ];
  if (o.latents.notSelected.length)
    lines.push(
      `**Warning:** ${o.latents.notSelected.length} of them did not pass that run's selection rule: ${o.latents.notSelected.join(', ')}.`,
    );
  for (const c of o.conditions) lines.push(...(condition(c).summary?.(resources) ?? []));
  lines.push(
    `Judge: \`${j.id}\`${j.prompt_sha256 ? `, prompt sha256 ${j.prompt_sha256.slice(0, 16)}…` : ''}${j.approximation ? ' — **a lexical approximation, not an LLM judgment**' : ''}.`,
    `Strength: ${o.strength.kind === 'fixed' ? `boost ${o.strength.boost} for every feature` : `calibrated per feature to a first-attempt score of ${o.strength.target} (${o.strength.steps} bisection steps, ${o.strength.perStep} judged response${o.strength.perStep > 1 ? 's' : ''} each)${o.strength.sweep ? `, swept over ${o.strength.sweep.k} levels within ±${o.strength.sweep.range} threshold spreads ${o.strength.sweep.absolute ? "around the mean threshold, the same absolute boosts for every feature (the paper's sweep)" : "around each feature's threshold"}` : ''}`}.`,
    '',
    `${result.planned} trials (${result.alreadyDone} from an earlier run of this directory, ${result.generated} now, ${result.seconds.toFixed(1)} s). Judge: ${judgeStats.judged} judged now, ${judgeStats.errors} failures, ${judgeStats.no_attempt} with no attempt (excluded), ${judgeStats.cache_hits} cache hits${judgeStats.models_returned.length ? `; model id returned by the API: ${judgeStats.models_returned.join(', ')}` : ''}.`,
    '',
    '## Metrics',
    '',
    metricsText(result.report),
    '',
    "### Proportions: cluster bootstrap vs Wilson vs the paper's Wald",
    '',
    proportionTable(result.report),
  );
  for (const l of result.levels ?? [])
    lines.push('', `## Sweep level ${l.level >= 0 ? '+' : ''}${l.level} threshold spreads`, '', metricsText(l.report));
  if (calibrations.size) {
    const rows = features.flatMap((f) => {
      const c = calibrations.get(f.latent);
      if (!c) return [];
      const tried = c.history
        .map((h) => `${h.boost.toFixed(2)} (${h.scores.map((s) => s ?? '–').join('/')})`)
        .join(', ');
      const bound = boundOf(c);
      return [
        [
          `${f.latent}${f.label ? ` ${f.label}` : ''}`,
          `${c.threshold.toFixed(3)}${bound ? ` ⚠ at the ${bound} bound` : ''}`,
          `[${c.settings.lo.toFixed(2)}, ${c.settings.hi.toFixed(2)}]`,
          tried,
        ],
      ];
    });
    const atBound = features.filter(
      (f) => calibrations.has(f.latent) && boundOf(calibrations.get(f.latent)!) !== null,
    ).length;
    lines.push('', '## Calibrated thresholds', '');
    if (atBound)
      lines.push(
        `**Warning:** ${atBound} threshold${atBound > 1 ? 's' : ''} ended at a bisection bound (⚠): the target score was not bracketed in the range; widen \`--calibrate-range\` or check the feature.`,
        '',
      );
    lines.push(markdownTable(['feature', 'threshold', 'range', 'boosts tried (first-attempt score)'], rows));
  }
  const examples = examplesMarkdown(pickExamples(trials, SUMMARY_EXAMPLES), 300);
  if (examples)
    lines.push(
      '',
      '## Example responses',
      '',
      `Up to ${SUMMARY_EXAMPLES} per condition (multi-attempt first, largest score change first; then typical), each attempt with its judge score; \`analyze report --examples N\` shows more, in full.`,
      '',
      examples,
    );
  lines.push('', `Trials: \`trials.jsonl\`; metrics: \`metrics.json\`; settings: \`config.json\`.`, '');
  return lines.join('\n');
}
