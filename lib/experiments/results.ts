// Step 5 of an ablation: metrics.json — per condition with cluster-bootstrap CIs and paired differences
// against the baseline, per sweep level when it sweeps — and summary.md, from the trials and the run's
// context as plain data (AblationFinish), so a run sharded over machines finishes the same way: each shard
// records its AblationFinish in shard.json and `analyze merge` calls finishAblation with it on the merged
// trials — one code path, so a merged run's metrics.json equals the unsharded run's.
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import type { JudgeStats } from '../judge/index.ts';
import { computeMetrics, type MetricsReport } from '../trials/metrics.ts';
import type { Trial } from '../trials/types.ts';
import type { Calibration } from './calibrate.ts';
import { BASELINE, type Condition, type ConditionResources, condition, isSteered } from './conditions.ts';
import type { AblationOptions, AblationResult } from './config.ts';
import type { Feature } from './features.ts';
import { type SummaryOptions, type SummaryPool, summaryMarkdown } from './summary.ts';

/** What finishing a run needs besides its trials; plain JSON. */
export interface AblationFinish {
  metrics: { conditions: Condition[]; resamples: number; seed: number; levels: number[] | null };
  /** metrics.json's provenance; `trials` and `judge.models_returned` are filled in from the trials. */
  provenance: { trials: number; judge: Record<string, unknown> } & Record<string, unknown>;
  summary: { o: SummaryOptions; features: Feature[]; resources: ConditionResources; pool: SummaryPool | null };
}

/** How the trials came about (summed over the shards of a merged run). */
export interface AblationTally {
  planned: number;
  alreadyDone: number;
  generated: number;
  seconds: number;
  judgeStats: JudgeStats;
  calibrations: Map<number, Calibration>;
}

/** The options summary.md shows, as plain data. */
function summaryOptions(o: AblationOptions): SummaryOptions {
  const { paths, steerHook, clampHook, trialsPerFeature, prompts, seed, conditions, sampling, strength } = o;
  return {
    paths,
    steerHook,
    clampHook,
    trialsPerFeature,
    prompts,
    seed,
    conditions,
    sampling,
    strength,
    latents: { latents: o.latents.latents, source: o.latents.source, notSelected: o.latents.notSelected },
    judge: { provenance: o.judge.provenance },
  };
}

/** A run's AblationFinish: its options and what its steps found (every feature, the pool, the conditions' resources). */
export function ablationFinish(
  o: AblationOptions,
  run: { key: string; store: string; runtime: unknown; shape: unknown },
  found: { features: Feature[]; pool: SummaryPool | null; resources: ConditionResources; levels: number[] | null },
): AblationFinish {
  const { resources } = found;
  return {
    metrics: { conditions: o.conditions, resamples: o.metrics.resamples, seed: o.metrics.seed, levels: found.levels },
    provenance: {
      run: run.key,
      store: run.store,
      trials: 0,
      judge: { ...o.judge.provenance },
      ablated: { latents: o.latents.latents, source: o.latents.source },
      ...Object.assign({}, ...o.conditions.map((c) => condition(c).provenance?.(resources))),
      runtime: run.runtime,
      // what identifies a paper configuration in the report (lib/report/paper.ts)
      shape: run.shape,
    },
    summary: {
      o: summaryOptions(o),
      features: found.features,
      resources,
      pool: found.pool && { rule: found.pool.rule, counts: found.pool.counts },
    },
  };
}

/** Model ids the judge's API returned over the run's trials (this session's and earlier ones'), in order first seen. */
function judgeModels(trials: Trial[]): string[] {
  return [...new Set(trials.map((t) => t.judge?.model).filter((m): m is string => typeof m === 'string'))];
}

function metricsOf(trials: Trial[], m: AblationFinish['metrics']): MetricsReport {
  const present = new Set(trials.map((t) => t.condition));
  const baseline =
    m.conditions.find((c) => present.has(c) && c === BASELINE) ?? m.conditions.find((c) => present.has(c));
  try {
    return computeMetrics(trials, { cluster: 'feature', resamples: m.resamples, seed: m.seed, baseline });
  } catch (err) {
    if (err instanceof RangeError) throw new Error(`metrics: ${err.message}`);
    throw err;
  }
}

/**
 * Writes metrics.json and summary.md into `out` from `trials`, which must be in plan order: the bootstrap
 * numbers its clusters in the order it meets them, so the order trials happened to finish in (batches,
 * a resumed run, shards) must not reach it. Unsteered conditions count in every sweep level.
 */
export function finishAblation(
  out: string,
  store: string,
  trials: Trial[],
  f: AblationFinish,
  tally: AblationTally,
): AblationResult & { report: MetricsReport } {
  const report = metricsOf(trials, f.metrics);
  const levels =
    f.metrics.levels?.map((level) => ({
      level,
      report: metricsOf(
        trials.filter((t) => t.provenance.boost_level === level || !isSteered(t.condition)),
        f.metrics,
      ),
    })) ?? null;
  writeJsonAtomic(join(out, 'metrics.json'), {
    ...report,
    ...(levels ? { levels } : {}),
    provenance: {
      ...f.provenance,
      trials: trials.length,
      judge: { ...f.provenance.judge, models_returned: judgeModels(trials) },
    },
  });
  const { planned, alreadyDone, generated, seconds, calibrations, judgeStats } = tally;
  const result = { out, store, report, levels, planned, alreadyDone, generated, seconds };
  writeFileAtomic(join(out, 'summary.md'), summaryMarkdown({ ...f.summary, calibrations, result, judgeStats, trials }));
  return result;
}
