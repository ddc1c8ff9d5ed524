// `analyze stats`: differential activation of every latent between two conditions of an activation store.
import { join } from 'node:path';
import { outDirFlag } from '../lib/cli/flags.ts';
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import {
  findDetectors,
  TEST_ALTERNATIVES,
  type TestAlternative,
  UNIT_KINDS,
  type UnitKind,
} from '../lib/stats/detectors.ts';
import { writeLatentSet } from '../lib/stats/latentSet.ts';
import { writeRanking } from '../lib/stats/rankingFile.ts';
import { rankHeader, tableText, topRows } from '../lib/stats/table.ts';
import { FDR_METHODS, type FdrMethod, RANK_KEYS, type RankKey, type SelectionMethod } from '../lib/stats/selection.ts';
import type { PoolMode } from '../lib/stats/sparse.ts';
import { openStore } from '../lib/store/reader.ts';

interface Args extends GlobalArgs {
  activations: string;
  a: string;
  b: string;
  pool: PoolMode;
  span: string;
  method: SelectionMethod;
  unit: UnitKind;
  alternative: TestAlternative;
  fdr: FdrMethod;
  'min-freq': number;
  alpha: number;
  'min-d': number;
  'rank-by': RankKey;
  top: number;
  show: number;
  out: string;
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'stats',
  describe: 'differential activation of every latent (group a vs b): ranking.arrow + latents.json',
  builder: (y) =>
    y
      .option('activations', { type: 'string', demandOption: true, describe: 'activation store directory (NAME.acts)' })
      .option('a', { type: 'string', default: 'off_topic', describe: 'condition of group a' })
      .option('b', { type: 'string', default: 'on_topic', describe: 'condition of group b' })
      .option('pool', {
        choices: ['max', 'mean'] as const,
        default: 'max' as PoolMode,
        describe: 'pooling of each sample over its span',
      })
      .option('span', {
        type: 'string',
        default: 'response',
        describe: 'span to pool over: response, all, or an extra span name',
      })
      .option('method', {
        choices: ['frequency', 'separability', 'effect'] as const,
        default: 'separability' as SelectionMethod,
        describe: 'selection rule',
      })
      .option('unit', {
        choices: UNIT_KINDS,
        default: 'prompt' as UnitKind,
        describe:
          'the test: prompt (within-prompt rank test; needs one group-b and ≥ 1 group-a samples per prompt, else it says why and runs the per-sample test) or sample (Mann–Whitney over all samples)',
      })
      .option('alternative', {
        choices: TEST_ALTERNATIVES,
        default: 'greater' as TestAlternative,
        describe: 'greater: group a higher (one-sided); two-sided: either way',
      })
      .option('fdr', {
        choices: FDR_METHODS,
        default: 'bh' as FdrMethod,
        describe: 'q-value of the effect rule: bh (Benjamini–Hochberg) or by (Benjamini–Yekutieli)',
      })
      .option('min-freq', {
        type: 'number',
        default: 0.8,
        describe: 'frequency rule: least share of group-a samples where the latent fires',
      })
      .option('alpha', { type: 'number', default: 0.05, describe: 'effect rule: q-value bound' })
      .option('min-d', { type: 'number', default: 0.8, describe: "effect rule: Cohen's d bound" })
      .option('rank-by', {
        choices: RANK_KEYS,
        default: 'evidence' as RankKey,
        describe:
          "ranking key; evidence = the test's p (p_strat, or p_mwu with --unit sample); ties by strat_auc (AUC), Cohen's d, latent index",
      })
      .option('top', {
        type: 'number',
        default: 100,
        describe: 'top-ranked latents listed in latents.json (besides every selected one)',
      })
      .option('show', { type: 'number', default: 20, describe: 'rows printed' })
      .option('out', { type: 'string', default: '.', describe: 'output directory' }),
  handler: async (args) => {
    outDirFlag('out', args.out);
    const store = openStore(args.activations);
    const t0 = performance.now();
    const r = await findDetectors(store, {
      a: args.a,
      b: args.b,
      pool: args.pool,
      span: args.span,
      method: args.method,
      unit: args.unit,
      alternative: args.alternative,
      fallback: true,
      rankBy: args['rank-by'],
      top: args.top,
      criterion: { min_freq_a: args['min-freq'], alpha: args.alpha, min_d: args['min-d'], fdr: args.fdr },
    });
    if (r.units.note) console.error(`the within-prompt test cannot run: ${r.units.note}; running the per-sample test`);
    writeRanking(join(args.out, 'ranking.arrow'), r.stats, r.order, r.selected);
    writeLatentSet(join(args.out, 'latents.json'), r.latentSet);
    const s = r.stats;
    const u = r.units;
    const design =
      u.unit === 'prompt'
        ? `within-prompt test over ${u.prompts} prompts (K = ${u.k_min === u.k_max ? u.k_min : `${u.k_min}–${u.k_max}`} ${args.a} samples each)`
        : 'per-sample test';
    console.log(
      `${s.n_a} ${args.a} vs ${s.n_b} ${args.b} samples, ${design}, ${args.alternative}; ${s.auc.length} latents (${s.active.reduce((x, y) => x + y, 0)} active), ` +
        `${args.pool}-pooled over ${args.span}; ${(performance.now() - t0).toFixed(0)} ms`,
    );
    if (u.duplicates) console.log(`${u.duplicates} ${args.a} samples repeat a response of their prompt and count once`);
    console.log(`selected by ${args.method}: ${r.latentSet.selected.length}`);
    console.log(tableText([rankHeader(r), ...topRows(r, args.show)]));
    console.log(`wrote ${join(args.out, 'ranking.arrow')} and ${join(args.out, 'latents.json')}`);
  },
};

export default command;
