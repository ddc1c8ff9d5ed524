// analyze find-otd-latents: discover the SAE latents that detect off-topic text, ranked, with evidence.
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { type Analysis, analyseStore } from '../lib/discovery/analyse.ts';
import { runEpisodes } from '../lib/discovery/episodeRun.ts';
import { readEpisodes } from '../lib/discovery/episodes.ts';
import { discoveryResultText } from '../lib/discovery/resultText.ts';
import { runDiscoveryShard, type ShardOutcome } from '../lib/discovery/shard.ts';
import {
  analysisOptions,
  DISCOVERY_COMMAND,
  discoveryOptions,
  latestLatentsFile,
  unfinishedDiscoveryRun,
} from '../lib/discovery/options.ts';
import { DISCOVERY_SETTINGS, FIND_COMMAND_SETTINGS } from '../lib/discovery/settings.ts';
import { runDiscovery, writeDiscovery } from '../lib/discovery/run.ts';
import { newRunDir } from '../lib/runs/dirs.ts';
import { openStore } from '../lib/store/reader.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { sessionSettings, withSessionFrom } from '../lib/cli/session.ts';
import { cliInput, joinTables, settingOptions } from '../lib/cli/settings.ts';
import { DRY_RUN_SETTINGS, settingsLines } from '../lib/settings/dryRun.ts';
import { SESSION_SETTINGS } from '../lib/settings/session.ts';
import { discoveryPlanLines, discoveryWork } from '../lib/discovery/work.ts';
import { renderPrompt } from '../lib/experiments/steered.ts';
import { timeSteps } from '../lib/parallel/timing.ts';
import { flagOf, SettingError, settingRef as ref } from '../lib/errors.ts';
import { shardOut } from '../lib/shards/out.ts';
import { SHARD_SETTINGS } from '../lib/shards/settings.ts';
import { type ShardSpec, shardText } from '../lib/shards/spec.ts';
import { settingSources } from '../lib/settings/sources.ts';
import { type CliArgs, inputFor, resolveSettings } from '../lib/settings/table.ts';

/** Every flag of the command (docs/find-otd-latents.md's table is generated from it). */
export const SETTINGS = joinTables(
  joinTables(joinTables(joinTables(SESSION_SETTINGS, DISCOVERY_SETTINGS), FIND_COMMAND_SETTINGS), DRY_RUN_SETTINGS),
  SHARD_SETTINGS,
);
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

const seconds = (started: number) => ((Date.now() - started) / 1000).toFixed(1);

/** What a shard did and what comes next (docs/cluster.md "Sharding a discovery"). */
function shardDoneText(r: ShardOutcome, shard: ShardSpec, dir: string, runOut: string): string {
  const merge = `analyze merge MERGED_DIR ${runOut}`;
  if (r.phase === 'responses')
    return `shard ${shardText(shard)}: responses to ${r.prompts} of ${r.total} prompts ${r.already ? 'already done' : 'done'} in ${dir}; once every shard is done: ${merge} (the responses), then this command again for every shard (the capture)`;
  const c = r.result;
  return `shard ${shardText(shard)} done: ${c.batches?.length} of ${c.planned} capture batches (${c.captured} samples captured now, ${c.resumed} already there) in ${dir}; once every shard is done: ${merge} (the store and the statistics)`;
}

const command: CommandModule<GlobalArgs, Args> = {
  command: DISCOVERY_COMMAND,
  describe:
    'Discover off-topic detector latents: responses → on/off-topic pairs → SAE codes → ranked latents (latents.json)',
  builder: (y) => settingOptions(y, SETTINGS),
  handler: async (argv) => {
    const input = cliInput(SETTINGS, argv);
    const paths = sessionSettings(argv);
    const settings = resolveSettings(SETTINGS, input, settingSources(paths)); // every flag checked before any work
    const { activations, episodes, latents, resume } = input;
    const discovery = inputFor(DISCOVERY_SETTINGS, input);
    if ((episodes || activations) && input.shard !== undefined && input.shard !== 'none')
      throw new SettingError(
        `${ref('shard')} splits a discovery run (responses and capture); ${ref(episodes ? 'episodes' : 'activations')} reads what is already there: run it unsharded`,
      );
    const sharded =
      episodes || activations ? null : shardOut(inputFor(SHARD_SETTINGS, input), discovery.out ?? undefined);
    if (sharded?.shard)
      console.error(`shard ${shardText(sharded.shard)} from ${sharded.shard.source} → ${sharded.out}`);
    const out =
      sharded?.out ?? discovery.out ?? (resume ? unfinishedDiscoveryRun() : null) ?? newRunDir(DISCOVERY_COMMAND);
    const started = Date.now();
    if (settings.values.dryRun) {
      console.log(['Settings (value, where it came from):', ...settingsLines(SETTINGS, settings, flagOf)].join('\n'));
      if (episodes || activations)
        return console.log(
          `Planned work: ${episodes ? 'the episodes' : 'the activation store'} read and analysed; no generation`,
        );
    }
    if (episodes) {
      const latentsPath = latents ?? latestLatentsFile();
      const eps = readEpisodes(episodes);
      const report = await withSessionFrom(argv, (session) => {
        console.error(`run directory: ${out}`);
        return runEpisodes(session, {
          out,
          episodes: eps,
          latentsPath,
          batchSize: settings.values.batchSize,
          backend: session.backend.description,
          log: (line) => console.error(line),
          paths: { model: paths.model, sae: paths.sae, episodes },
        });
      });
      const main = report.comparisons[0].results.at(-1);
      console.log(
        `${report.n_episodes} episodes, ${report.latents.length} latents; missing regions: ${Object.entries(
          report.missing,
        )
          .map(([g, m]) => `${g} ${m}`)
          .join(', ')}`,
      );
      if (main)
        console.log(
          `off_topic vs on_topic (mean over latents): ${(main.mean_x as number)?.toFixed(4)} vs ${(main.mean_y as number)?.toFixed(4)}, d_z ${(main.d_z as number | null)?.toFixed(3)}, Wilcoxon p ${(main.wilcoxon as { p: number | null }).p}, paired t p ${(main.paired_t as { p: number | null }).p} (${main.n_pairs} pairs)`,
        );
      const { writeFigures } = await import('../lib/plot/run.ts'); // the plotting libraries load only to draw
      const figures = await writeFigures(out);
      console.log(`wrote ${join(out, 'episodes.json')}, summary.md, ${figures.length} figures (${seconds(started)} s)`);
      return;
    }
    let an: Analysis;
    let labels: Map<number, string> | undefined;
    if (activations) {
      const { find, holdout, span, ...rest } = analysisOptions(settings.values);
      labels = rest.labels;
      const store = openStore(activations);
      an = await analyseStore(store, { find, holdout, labels });
      const source = `Activation store \`${activations}\` (${new Set(store.samples.prompt_id).size} prompts), read at ${store.meta.hook ?? `layer ${store.meta.layer}`}.`;
      writeDiscovery(out, an, { activations, meta: store.meta }, { source, span, labels });
    } else {
      const o = discoveryOptions({ ...discovery, out }, paths); // inputs read, derangements checked, before any work
      if (settings.values.dryRun) {
        const timing = await withSessionFrom(argv, (session) =>
          timeSteps(
            session.executor,
            o.prompts.slice(0, o.batchSize).map((p) => renderPrompt(session.tokenizer, p, null)),
            o.batchSize,
          ),
        );
        const lines = discoveryPlanLines(o, discoveryWork(o), timing);
        if (sharded?.shard)
          lines.push(...discoveryPlanLines(o, discoveryWork(o, sharded.shard), timing, sharded.shard));
        console.log(lines.join('\n'));
        return;
      }
      const shard = sharded?.shard;
      if (shard) {
        const r = await withSessionFrom(argv, (session) => runDiscoveryShard(session, o, shard));
        return console.log(shardDoneText(r, shard, out, discovery.out!));
      }
      labels = o.labels;
      an = await withSessionFrom(argv, (session) => {
        console.error(`run directory: ${out}`);
        return runDiscovery(session, o);
      });
    }
    console.log(discoveryResultText(an, labels, seconds(started)));
    const { writeFigures } = await import('../lib/plot/run.ts');
    const figures = await writeFigures(out);
    console.log(
      `wrote ${join(out, 'latents.json')}, ranking.arrow, summary.md, ${figures.length} figures in ${join(out, 'figures')}`,
    );
  },
};

export default command;
