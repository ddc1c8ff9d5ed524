// `analyze metrics`: ESR metrics per condition with cluster-bootstrap CIs (Wilson and the paper's Wald
// beside them) and differences between conditions, from our trial store or the paper's result files.
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { writeJsonAtomic } from '../lib/io/atomic.ts';
import { type CiMethod, checkResamples } from '../lib/stats/bootstrap.ts';
import { type ClusterBy, computeMetrics, type MetricsReport } from '../lib/trials/metrics.ts';
import {
  approximationNote,
  conditionTable,
  differenceTable,
  exclusionNote,
  intervalNote,
  proportionTable,
} from '../lib/trials/report.ts';
import { loadTrialSources } from '../lib/trials/sources.ts';
import { DEGRADED_RULE, isDegraded } from '../lib/trials/degraded.ts';
import { parseRestriction, RESTRICT_SYNTAX, restrictTrials } from '../lib/trials/restrict.ts';
import type { Trial } from '../lib/trials/types.ts';
import { InputError } from '../lib/errors.ts';
import { outFileFlag } from '../lib/cli/flags.ts';

interface Args extends GlobalArgs {
  trials: string[];
  cluster: ClusterBy;
  resamples: number;
  ci: CiMethod;
  seed: number;
  level: number;
  baseline?: string;
  'exclude-degraded': boolean;
  where?: string[];
  out?: string;
}

function print(report: MetricsReport): void {
  const approx = approximationNote(report);
  console.log(
    [
      ...(approx ? [approx, ''] : []),
      exclusionNote(report),
      '',
      conditionTable(report),
      '',
      proportionTable(report),
      '',
      differenceTable(report),
      '',
      intervalNote(report),
    ].join('\n'),
  );
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'metrics',
  describe: 'ESR metrics with bootstrap CIs per condition, and differences between conditions',
  builder: (y) =>
    y
      .option('trials', {
        type: 'string',
        array: true,
        demandOption: true,
        describe:
          'FILE[=CONDITION] ...: trial store JSONL or paper experiment_results_*.json files, each optionally labelled with its condition (e.g. x.json=meta-prompt)',
      })
      .option('cluster', {
        choices: ['feature', 'prompt', 'none'] as const,
        default: 'feature' as ClusterBy,
        describe: 'resampling unit',
      })
      .option('resamples', { type: 'number', default: 10_000 })
      .option('ci', { choices: ['bca', 'percentile', 'basic'] as const, default: 'bca' as CiMethod })
      .option('seed', { type: 'number', default: 0 })
      .option('level', { type: 'number', default: 0.95 })
      .option('baseline', {
        type: 'string',
        describe: 'condition the differences are taken against (default: first seen)',
      })
      .option('exclude-degraded', {
        type: 'boolean',
        default: false,
        describe: `sensitivity analysis: also report the metrics without degraded outputs (${DEGRADED_RULE}), as the paper optionally did; the headline numbers keep them`,
      })
      .option('where', {
        type: 'string',
        array: true,
        describe: `restrict to trials by their per-trial records (all must hold): ${RESTRICT_SYNTAX}; e.g. --where finish_reason=eos --where well_formed_share>=0.8`,
      })
      .option('out', { type: 'string', describe: 'write metrics.json here' }),
  handler: (args) => {
    checkResamples(args.resamples, '--resamples', 100);
    if (!Number.isInteger(args.seed)) throw new InputError(`--seed: expected an integer, found ${args.seed}`);
    if (!(args.level > 0 && args.level < 1))
      throw new InputError(`--level: expected a number in (0, 1), found ${args.level}`);
    outFileFlag('out', args.out);
    const restrictions = (args.where ?? []).map(parseRestriction);
    const sources = loadTrialSources(args.trials);
    const all = sources.flatMap((s) => s.trials);
    const trials = restrictTrials(all, restrictions);
    if (restrictions.length)
      console.log(
        `restricted to ${trials.length} of ${all.length} trials: ${restrictions.map((r) => r.text).join(' and ')}\n`,
      );
    const metricsOf = (ts: Trial[]): MetricsReport => {
      try {
        return computeMetrics(ts, {
          cluster: args.cluster,
          resamples: args.resamples,
          seed: args.seed,
          level: args.level,
          ci: args.ci,
          baseline: args.baseline,
        });
      } catch (err) {
        if (err instanceof RangeError) throw new InputError(`${args.trials.join(', ')}: ${err.message}`);
        throw err;
      }
    };
    const report = metricsOf(trials);
    print(report);
    let sensitivity: Record<string, unknown> | null = null;
    if (args['exclude-degraded']) {
      const degraded = trials.filter((t) => isDegraded(t.response));
      const excluded = new Map<string, number>();
      for (const t of degraded) excluded.set(t.condition, (excluded.get(t.condition) ?? 0) + 1);
      const kept = metricsOf(trials.filter((t) => !isDegraded(t.response)));
      console.log(
        [
          '',
          `## Sensitivity: degraded outputs excluded (${DEGRADED_RULE})`,
          '',
          `excluded: ${Object.keys(report.conditions)
            .map((c) => `${c} ${excluded.get(c) ?? 0}`)
            .join(', ')} (the tables above keep them, as the paper's headline numbers did)`,
          '',
          conditionTable(kept),
          '',
          differenceTable(kept),
        ].join('\n'),
      );
      sensitivity = { exclude_degraded: { rule: DEGRADED_RULE, excluded: Object.fromEntries(excluded), report: kept } };
    }
    if (args.out) {
      writeJsonAtomic(args.out, {
        ...report,
        ...(sensitivity ? { sensitivity } : {}),
        provenance: {
          ...(restrictions.length ? { where: restrictions.map((r) => r.text), trials_kept: trials.length } : {}),
          sources: sources.map((s) => ({
            path: s.path,
            format: s.format,
            label: s.label,
            conditions: s.conditions,
            trials: s.trials.length,
          })),
        },
      });
      console.log(`wrote ${args.out}`);
    }
  },
};

export default command;
