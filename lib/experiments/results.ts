// Step 5 of an ablation: the metrics of its trials — per condition with cluster-bootstrap CIs and paired
// differences against the baseline, per sweep level when it sweeps — written to metrics.json.
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import { computeMetrics, type MetricsReport } from '../trials/metrics.ts';
import type { Trial } from '../trials/types.ts';
import { BASELINE, type Condition, type ConditionResources, condition, isSteered } from './conditions.ts';
import type { AblationOptions } from './config.ts';

export interface AblationMetrics {
  report: MetricsReport;
  /** Per sweep level (offset in threshold spreads), when sweeping; unsteered conditions count in every level. */
  levels: { level: number; report: MetricsReport }[] | null;
}

/** Model ids the judge's API returned over the run's trials (this session's and earlier ones'), in order first seen. */
function judgeModels(trials: Trial[]): string[] {
  return [...new Set(trials.map((t) => t.judge?.model).filter((m): m is string => typeof m === 'string'))];
}

function metricsOf(trials: Trial[], conditions: Condition[], o: AblationOptions): MetricsReport {
  const present = new Set(trials.map((t) => t.condition));
  const baseline = conditions.find((c) => present.has(c) && c === BASELINE) ?? conditions.find((c) => present.has(c));
  try {
    return computeMetrics(trials, {
      cluster: 'feature',
      resamples: o.metrics.resamples,
      seed: o.metrics.seed,
      baseline,
    });
  } catch (err) {
    if (err instanceof RangeError) throw new Error(`metrics: ${err.message}`);
    throw err;
  }
}

/** The metrics pooled over every level, and per level when `levels` is given. */
export function ablationMetrics(trials: Trial[], o: AblationOptions, levels: number[] | null): AblationMetrics {
  return {
    report: metricsOf(trials, o.conditions, o),
    levels:
      levels?.map((level) => ({
        level,
        report: metricsOf(
          trials.filter((t) => t.provenance.boost_level === level || !isSteered(t.condition)),
          o.conditions,
          o,
        ),
      })) ?? null,
  };
}

/** metrics.json: the metrics, the levels, and what they were computed from. */
export function writeMetrics(
  o: AblationOptions,
  m: AblationMetrics,
  trials: Trial[],
  resources: ConditionResources,
  run: { key: string; store: string; runtime: unknown; shape: unknown },
): void {
  writeJsonAtomic(join(o.out, 'metrics.json'), {
    ...m.report,
    ...(m.levels ? { levels: m.levels } : {}),
    provenance: {
      run: run.key,
      store: run.store,
      trials: trials.length,
      judge: { ...o.judge.provenance, models_returned: judgeModels(trials) },
      ablated: { latents: o.latents.latents, source: o.latents.source },
      ...Object.assign({}, ...o.conditions.map((c) => condition(c).provenance?.(resources))),
      runtime: run.runtime,
      // what identifies a paper configuration in the report (lib/report/paper.ts)
      shape: run.shape,
    },
  });
}
