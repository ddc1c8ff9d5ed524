// The settings of `analyze metrics` (ESR metrics with bootstrap CIs per condition, and differences between
// conditions), declared once; the bootstrap's resample count is ablate's too.
import { bool, custom, int, num, oneOf, text, withDefault } from '../settings/kinds.ts';
import { seedSetting } from '../settings/sampling.ts';
import { MAX_RESAMPLES } from '../stats/bootstrap.ts';
import { DEGRADED_RULE } from './degraded.ts';
import { RESTRICT_SYNTAX } from './restrict.ts';

/** Bootstrap resamples of the metrics (metrics, ablate). */
export const RESAMPLES = int({
  doc: 'bootstrap resamples of the metrics',
  min: 100,
  max: MAX_RESAMPLES,
  default: 10_000,
  key: null,
});

/** One or more non-empty strings given as repeated (or space-separated) values. */
const textList = (doc: string, expected: string) =>
  custom<string[] | undefined, string[]>({
    doc,
    default: undefined,
    cli: { type: 'string', array: true },
    expected,
    valid: (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.trim() !== ''),
    key: null,
  });

export const METRICS_SETTINGS = {
  trials: textList(
    'FILE[=CONDITION] ...: trial store JSONL or paper experiment_results_*.json files, each optionally labelled with its condition (e.g. x.json=meta-prompt)',
    'one or more trial files',
  ),
  cluster: oneOf(['feature', 'prompt', 'none'] as const, { doc: 'resampling unit', default: 'feature', key: null }),
  resamples: RESAMPLES,
  ci: oneOf(['bca', 'percentile', 'basic'] as const, { doc: 'bootstrap interval', default: 'bca', key: null }),
  seed: withDefault(seedSetting('bootstrap seed'), { key: null }),
  level: num({ doc: 'confidence level', min: 0, max: 1, open: 'both', default: 0.95, key: null }),
  baseline: text({
    doc: 'condition the differences are taken against',
    default: null,
    auto: 'the first seen',
    key: null,
  }),
  excludeDegraded: bool({
    doc: `sensitivity analysis: also report the metrics without degraded outputs (${DEGRADED_RULE}), as the paper optionally did; the headline numbers keep them`,
    default: false,
    key: null,
  }),
  where: textList(
    `restrict to trials by their per-trial records (all must hold): ${RESTRICT_SYNTAX}; e.g. ‹where› finish_reason=eos ‹where› well_formed_share>=0.8`,
    'one or more conditions',
  ),
  out: text({ doc: 'write metrics.json here', expected: 'a file path', key: null }),
};
