// `analyze metrics`: ESR metrics per condition with cluster-bootstrap CIs (Wilson and the paper's Wald
// beside them) and differences between conditions, from our trial store or the paper's result files.
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { writeJsonAtomic } from '../lib/io/atomic.ts';
import { cliInput, settingOptions } from '../lib/cli/settings.ts';
import { type CliArgs, required, resolveSettings } from '../lib/settings/table.ts';
import { computeMetrics, type MetricsReport } from '../lib/trials/metrics.ts';
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
import { parseRestriction, restrictTrials } from '../lib/trials/restrict.ts';
import { METRICS_SETTINGS } from '../lib/trials/settings.ts';
import type { Trial } from '../lib/trials/types.ts';
import { InputError } from '../lib/errors.ts';
import { outFileFlag } from '../lib/cli/flags.ts';

/** Every flag of the command (docs/commands.md's table is generated from it). */
export const SETTINGS = METRICS_SETTINGS;
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

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
  builder: (y) => settingOptions(y, SETTINGS),
  handler: (argv) => {
    const resolved = resolveSettings(SETTINGS, cliInput(SETTINGS, argv)); // every flag checked before any work
    const args = resolved.values;
    const files = required(resolved, 'trials', 'the trial files to measure');
    outFileFlag('out', args.out);
    const restrictions = (args.where ?? []).map(parseRestriction);
    const sources = loadTrialSources(files);
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
          baseline: args.baseline ?? undefined,
        });
      } catch (err) {
        if (err instanceof RangeError) throw new InputError(`${files.join(', ')}: ${err.message}`);
        throw err;
      }
    };
    const report = metricsOf(trials);
    print(report);
    let sensitivity: Record<string, unknown> | null = null;
    if (args.excludeDegraded) {
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
