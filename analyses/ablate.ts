// analyze ablate: steered generation with and without the off-topic detector latents (plus controls),
// judged, with cluster-bootstrap CIs per condition and paired differences between conditions.
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { sessionSettings, withSessionFrom } from '../lib/cli/session.ts';
import { cliInput, joinTables, settingOptions } from '../lib/cli/settings.ts';
import { flagOf } from '../lib/errors.ts';
import { ABLATE_COMMAND, type AblationResult, prepareAblation } from '../lib/experiments/config.ts';
import { runAblation } from '../lib/experiments/run.ts';
import { ABLATION_SETTINGS } from '../lib/experiments/settings.ts';
import { ablationPlanLines, ablationWork, shardSetup, timeAblationSteps } from '../lib/experiments/work.ts';
import { lockDir } from '../lib/runs/lock.ts';
import { DRY_RUN_SETTINGS, JUDGE_PRICE_SETTINGS, settingsLines } from '../lib/settings/dryRun.ts';
import { SESSION_SETTINGS } from '../lib/settings/session.ts';
import { settingSources } from '../lib/settings/sources.ts';
import { type CliArgs, inputFor, resolveSettings } from '../lib/settings/table.ts';
import { metricsText } from '../lib/trials/report.ts';
import { shardOut } from '../lib/shards/out.ts';
import { SHARD_SETTINGS } from '../lib/shards/settings.ts';
import { shardText } from '../lib/shards/spec.ts';

/** Every flag of the command (docs/ablate.md's table is generated from it). */
export const SETTINGS = joinTables(
  joinTables(joinTables(SESSION_SETTINGS, ABLATION_SETTINGS), SHARD_SETTINGS),
  joinTables(DRY_RUN_SETTINGS, JUDGE_PRICE_SETTINGS),
);
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

/** The terminal's account of a finished run, with the figures drawn (a shard's: what it did, and the merge to come). */
async function report(r: AblationResult, sweep: { absolute?: boolean } | null, runOut: string): Promise<void> {
  if (r.waiting) {
    console.log(
      `shard calibrated; ${r.waiting} feature(s) of other shards not calibrated yet: once every shard has run, run every shard again (the same command) for the sweep, then analyze merge MERGED_DIR ${runOut}`,
    );
    return;
  }
  if (r.report === null) {
    console.log(
      `shard done: ${r.planned} trials (${r.alreadyDone} already done, ${r.generated} now) in ${r.seconds.toFixed(1)} s → ${r.store}; once every shard is done: analyze merge MERGED_DIR ${runOut}`,
    );
    return;
  }
  console.log(metricsText(r.report, Object.keys(r.report.conditions)[0]));
  if (Object.keys(r.report.conditions).length > 2)
    console.log('(differences between the other conditions: summary.md)');
  const boostLabel = sweep
    ? sweep.absolute
      ? 'strength (sd of the thresholds from their mean; the same boosts for every feature)'
      : 'strength (threshold spreads from each feature’s threshold)'
    : null;
  const { writeFigures } = await import('../lib/plot/run.ts'); // the plotting libraries load only to draw
  const figures = await writeFigures(r.out, boostLabel ? { boostLabel } : {});
  console.log(
    `\n${r.planned} trials (${r.alreadyDone} already done, ${r.generated} now) in ${r.seconds.toFixed(1)} s → ${r.store}; metrics.json, summary.md and ${figures.length} figures in ${r.out}`,
  );
}

const command: CommandModule<GlobalArgs, Args> = {
  command: ABLATE_COMMAND,
  describe:
    'Steer along many features with and without the detector latents ablated (and controls), judge, and report ESR metrics with bootstrap CIs',
  builder: (y) => settingOptions(y, SETTINGS),
  handler: async (a) => {
    const input = cliInput(SETTINGS, a);
    const paths = sessionSettings(a);
    const resolved = resolveSettings(SETTINGS, input, settingSources(paths)); // every flag checked before any work
    // inputs read, latents located, the judge made: before the model is opened
    const sharded = shardOut(inputFor(SHARD_SETTINGS, input), input.out ?? undefined); // the shard's directory under --out
    if (sharded.shard) console.error(`shard ${shardText(sharded.shard)} from ${sharded.shard.source} → ${sharded.out}`);
    const setup = prepareAblation(
      { ...inputFor(ABLATION_SETTINGS, input), out: sharded.out, shard: sharded.shard, names: flagOf },
      paths,
    );
    if (resolved.values.dryRun) {
      console.log(['Settings (value, where it came from):', ...settingsLines(SETTINGS, resolved, flagOf)].join('\n'));
      const timing = await withSessionFrom(a, (session) => timeAblationSteps(session, setup));
      const price = resolved.values.judgePrice;
      const lines = ablationPlanLines(setup, ablationWork(setup), timing, price);
      const shard = sharded.shard;
      const part = shard && shardSetup(setup, shard);
      if (part) lines.push(...ablationPlanLines(part, ablationWork(part), timing, price, shard));
      console.log(lines.join('\n'));
      return;
    }
    await withSessionFrom(a, async (session) => {
      const lock = lockDir(setup.out, `run directory ${setup.out}`); // held through the figures, drawn after the run
      try {
        const r = await runAblation(session, setup);
        await report(r, setup.strength.kind === 'calibrate' ? setup.strength.sweep : null, input.out ?? setup.out);
      } finally {
        lock.release();
      }
    });
  },
};

export default command;
