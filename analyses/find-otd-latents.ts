// analyze find-otd-latents: discover the SAE latents that detect off-topic text, ranked, with evidence.
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { checkWorkers, openSession, type Session } from '../lib/session.ts';
import { type Analysis, analyseStore } from '../lib/discovery/analyse.ts';
import { runEpisodes } from '../lib/discovery/episodeRun.ts';
import { readEpisodes } from '../lib/discovery/episodes.ts';
import { rankedRows, unitsText } from '../lib/discovery/report.ts';
import { tableText } from '../lib/stats/table.ts';
import { readLabels, readPrompts, readResponses } from '../lib/io/inputs.ts';
import {
  DISCOVERY_COMMAND,
  DISCOVERY_DEFAULTS,
  latestLatentsFile,
  unfinishedDiscoveryRun,
} from '../lib/discovery/options.ts';
import { runDiscovery, writeDiscovery } from '../lib/discovery/run.ts';
import { newRunDir } from '../lib/runs/dirs.ts';
import { InputError } from '../lib/errors.ts';
import { checkSamplingFlags, intFlag } from '../lib/cli/flags.ts';
import { discoveryDerangements } from '../lib/discovery/pairs.ts';
import { TEST_ALTERNATIVES, type TestAlternative, UNIT_KINDS, type UnitKind } from '../lib/stats/detectors.ts';
import { FDR_METHODS, type FdrMethod, type SelectionMethod } from '../lib/stats/selection.ts';
import type { PoolMode } from '../lib/stats/sparse.ts';
import { openStore } from '../lib/store/reader.ts';
import { writeFigures } from '../lib/plot/run.ts';
import { backendSpec, promptsOption, sessionOptions } from '../lib/cli/options.ts';
import type { GlobalArgs, SessionArgs } from '../lib/cli/options.ts';

interface Args extends SessionArgs {
  prompts: string;
  responses?: string;
  derangements: number;
  span: 'response' | 'full';
  pool: PoolMode;
  method: SelectionMethod;
  unit: UnitKind;
  alternative: TestAlternative;
  fdr: FdrMethod;
  top: number;
  holdout?: number;
  seed: number;
  'max-tokens': number;
  temperature: number;
  labels?: string;
  activations?: string;
  out?: string;
  resume: boolean;
  episodes?: string;
  latents?: string;
}

const COMMAND = DISCOVERY_COMMAND;
const D = DISCOVERY_DEFAULTS;

const command: CommandModule<GlobalArgs, Args> = {
  command: COMMAND,
  describe:
    'Discover off-topic detector latents: responses → on/off-topic pairs → SAE codes → ranked latents (latents.json)',
  builder: (y) =>
    promptsOption(sessionOptions(y))
      .option('responses', {
        type: 'string',
        describe:
          "responses instead of generating: JSON {prompt: response}, JSONL, or the paper's normal_responses.json",
      })
      .option('derangements', {
        type: 'number',
        default: D.derangements,
        describe: 'off-topic pairings (derangements of the prompts)',
      })
      .option('span', {
        choices: ['response', 'full'] as const,
        default: D.span as 'response' | 'full',
        describe: 'pool over the response tokens or the whole conversation (the paper)',
      })
      .option('pool', {
        choices: ['max', 'mean'] as const,
        default: D.find.pool as PoolMode,
        describe: 'pooling over the span',
      })
      .option('method', {
        choices: ['frequency', 'separability', 'effect'] as const,
        default: D.find.method as SelectionMethod,
        describe: 'selection rule',
      })
      .option('unit', {
        choices: UNIT_KINDS,
        default: D.find.unit as UnitKind,
        describe:
          "the test: prompt (within-prompt rank test: each prompt's on-topic sample against its own off-topic ones, exact p) or sample (Mann–Whitney over all samples as if independent)",
      })
      .option('alternative', {
        choices: TEST_ALTERNATIVES,
        default: D.find.alternative as TestAlternative,
        describe: 'greater: off-topic higher (one-sided); two-sided: either way',
      })
      .option('fdr', {
        choices: FDR_METHODS,
        default: 'bh' as FdrMethod,
        describe: 'q-value of the effect rule: bh (Benjamini–Hochberg) or by (Benjamini–Yekutieli, any dependence)',
      })
      .option('top', { type: 'number', default: D.find.top, describe: 'top-ranked latents listed in latents.json' })
      .option('holdout', {
        type: 'number',
        describe:
          'hold out this fraction of the prompts (seeded, with all their samples; derangements within each part): select on the rest, report strat_auc on them',
      })
      .option('seed', {
        type: 'number',
        default: D.seed,
        describe: 'seed for derangements, the holdout split and response sampling',
      })
      .option('max-tokens', {
        type: 'number',
        default: D.generation.maxNewTokens,
        describe: 'response length when generating',
      })
      .option('temperature', {
        type: 'number',
        default: D.generation.temperature,
        describe: 'response sampling temperature (0 = greedy)',
      })
      .option('labels', { type: 'string', describe: 'CSV index,label of latent descriptions' })
      .option('activations', { type: 'string', describe: 'analyse an existing activation store instead of capturing' })
      .option('out', {
        type: 'string',
        describe: `run directory (default ${newRunDir(COMMAND).replace(/\d{8}-\d{6}$/, '<timestamp>')})`,
      })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the latest unfinished run in runs/' })
      .option('episodes', {
        type: 'string',
        describe:
          'episodes mode: JSONL of self-correction responses {id, prompt, response, spans: {off_topic, correction, on_topic}}',
      })
      .option('latents', {
        type: 'string',
        describe: 'episodes mode: latent set to trace (default: latents.json of the latest find-otd-latents run)',
      }),
  handler: async (argv) => {
    if (!(Number.isInteger(argv.derangements) && argv.derangements >= 1))
      throw new InputError(`--derangements must be a positive integer, found ${argv.derangements}`);
    if (!(Number.isInteger(argv['batch-size']) && argv['batch-size'] >= 1))
      throw new InputError(`--batch-size must be a positive integer, found ${argv['batch-size']}`);
    checkSamplingFlags(argv);
    checkWorkers(argv.workers, argv['force-workers']);
    intFlag('top', argv.top, 1);
    if (argv.layer !== undefined) intFlag('layer', argv.layer, 0);
    if (argv.resume && argv.out)
      throw new InputError('--resume continues the latest run; with --out, just rerun into that directory');
    const labels = argv.labels ? readLabels(argv.labels) : undefined;
    const span = argv.span === 'full' ? 'all' : 'response';
    const find = {
      pool: argv.pool,
      method: argv.method,
      unit: argv.unit,
      alternative: argv.alternative,
      criterion: { fdr: argv.fdr },
      top: argv.top,
      span,
      ci: { ...D.find.ci, seed: argv.seed },
    };
    const out = argv.out ?? (argv.resume ? unfinishedDiscoveryRun() : null) ?? newRunDir(COMMAND);
    const started = Date.now();
    const holdout = argv.holdout === undefined ? null : { fraction: argv.holdout, seed: argv.seed };
    if (argv.episodes) {
      const latentsPath = argv.latents ?? latestLatentsFile();
      const episodes = readEpisodes(argv.episodes);
      const report = await withSession(argv, (session) => {
        console.error(`run directory: ${out}`);
        return runEpisodes(session, {
          out,
          episodes,
          latentsPath,
          batchSize: argv['batch-size'],
          backend: session.backend.description,
          log: (line) => console.error(line),
          paths: { model: argv.model, sae: argv.sae, episodes: argv.episodes! },
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
      const figures = await writeFigures(out);
      console.log(
        `wrote ${join(out, 'episodes.json')}, summary.md, ${figures.length} figures (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      return;
    }
    let an: Analysis;
    if (argv.activations) {
      const store = openStore(argv.activations);
      an = await analyseStore(store, { find, holdout, labels });
      const source = `Activation store \`${argv.activations}\` (${new Set(store.samples.prompt_id).size} prompts), layer ${store.meta.layer}.`;
      writeDiscovery(out, an, { activations: argv.activations, meta: store.meta }, { source, span, labels });
    } else {
      const prompts = readPrompts(argv.prompts);
      const responses = argv.responses ? readResponses(argv.responses, prompts) : null;
      discoveryDerangements(prompts.length, argv.derangements, argv.seed, holdout); // refused before any work if they cannot be made
      const paths = { prompts: argv.prompts, responses: argv.responses ?? null };
      an = await withSession(argv, (session) => {
        console.error(`run directory: ${out}`);
        return runDiscovery(session, {
          out,
          prompts,
          responses,
          paths,
          span,
          find,
          labels,
          holdout,
          seed: argv.seed,
          derangements: argv.derangements,
          batchSize: argv['batch-size'],
          generation: { maxNewTokens: argv['max-tokens'], temperature: argv.temperature },
        });
      });
    }
    console.log(
      `${unitsText(an)}${an.holdout ? ` (selection prompts; ${an.holdout.split.heldOut.length} prompts held out)` : ''}; ` +
        `${an.latentSet.selected.length} latents pass the ${an.result.criterion.method} rule (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    if (an.stability)
      console.log(
        `stability: selected in k of ${an.stability.derangements.length} derangements (each prompt's off:<k>:<i> vs its on-topic sample)`,
      );
    if (an.holdout) console.log('strat_auc_holdout: strat_auc on the held-out prompts');
    console.log(tableText(rankedRows(an, 10, labels), labels !== undefined));
    const figures = await writeFigures(out);
    console.log(
      `wrote ${join(out, 'latents.json')}, ranking.arrow, summary.md, ${figures.length} figures in ${join(out, 'figures')}`,
    );
  },
};

/** Opens the model and SAE (in this thread or on workers), runs `body`, and always stops the workers. */
async function withSession<T>(argv: Args, body: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession({
    model: argv.model,
    adapter: argv.adapter,
    mergeAdapter: argv['merge-adapter'],
    sae: argv.sae,
    layer: argv.layer,
    backend: backendSpec(argv),
    workers: argv.workers,
    forceWorkers: argv['force-workers'],
  });
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

export default command;
