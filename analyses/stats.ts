// `analyze stats`: differential activation of every latent between two conditions of an activation store.
import { join } from 'node:path';
import { outDirFlag } from '../lib/cli/flags.ts';
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { findDetectors } from '../lib/stats/detectors.ts';
import { writeLatentSet } from '../lib/stats/latentSet.ts';
import { writeRanking } from '../lib/stats/rankingFile.ts';
import { RANK_HEADER, tableText, topRows } from '../lib/stats/table.ts';
import { RANK_KEYS, type RankKey, type SelectionMethod } from '../lib/stats/selection.ts';
import type { PoolMode } from '../lib/stats/sparse.ts';
import type { UnitKind } from '../lib/stats/units.ts';
import { openStore } from '../lib/store/reader.ts';

interface Args extends GlobalArgs {
  activations: string;
  a: string;
  b: string;
  pool: PoolMode;
  span: string;
  method: SelectionMethod;
  unit: UnitKind;
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
        choices: ['prompt', 'sample'] as const,
        default: 'prompt' as UnitKind,
        describe: "independent unit: prompt (each prompt's samples in a group averaged into one value) or sample",
      })
      .option('min-freq', {
        type: 'number',
        default: 0.8,
        describe: 'frequency rule: least share of group-a samples where the latent fires',
      })
      .option('alpha', { type: 'number', default: 0.05, describe: 'effect rule: BH q-value bound' })
      .option('min-d', { type: 'number', default: 0.8, describe: "effect rule: Cohen's d bound" })
      .option('rank-by', {
        choices: RANK_KEYS,
        default: 'auc' as RankKey,
        describe: "ranking key (ties broken by Cohen's d, then latent index)",
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
      rankBy: args['rank-by'],
      top: args.top,
      criterion: { min_freq_a: args['min-freq'], alpha: args.alpha, min_d: args['min-d'] },
    });
    writeRanking(join(args.out, 'ranking.arrow'), r.stats, r.order, r.selected);
    writeLatentSet(join(args.out, 'latents.json'), r.latentSet);
    const s = r.stats;
    console.log(
      `${s.n_a} ${args.a} vs ${s.n_b} ${args.b} ${args.unit}s (${r.units.samples_a} and ${r.units.samples_b} samples), ${s.auc.length} latents (${s.active.reduce((x, y) => x + y, 0)} active), ` +
        `${args.pool}-pooled over ${args.span}; ${(performance.now() - t0).toFixed(0)} ms`,
    );
    console.log(`selected by ${args.method}: ${r.latentSet.selected.length}`);
    console.log(tableText([RANK_HEADER, ...topRows(r, args.show)]));
    console.log(`wrote ${join(args.out, 'ranking.arrow')} and ${join(args.out, 'latents.json')}`);
  },
};

export default command;
