// `analyze stats`: differential activation of every latent between two conditions of an activation store.
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { outDirFlag } from '../lib/cli/flags.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { cliInput, settingOptions } from '../lib/cli/settings.ts';
import { type CliArgs, required, resolveSettings } from '../lib/settings/table.ts';
import { findDetectors } from '../lib/stats/detectors.ts';
import { writeLatentSet } from '../lib/stats/latentSet.ts';
import { writeRanking } from '../lib/stats/rankingFile.ts';
import { STATS_SETTINGS } from '../lib/stats/settings.ts';
import { rankHeader, tableText, topRows } from '../lib/stats/table.ts';
import { openStore } from '../lib/store/reader.ts';

/** Every flag of the command (docs/commands.md's table is generated from it). */
export const SETTINGS = STATS_SETTINGS;
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

const command: CommandModule<GlobalArgs, Args> = {
  command: 'stats',
  describe: 'differential activation of every latent (group a vs b): ranking.arrow + latents.json',
  builder: (y) => settingOptions(y, SETTINGS),
  handler: async (argv) => {
    const resolved = resolveSettings(SETTINGS, cliInput(SETTINGS, argv)); // every flag checked before any work
    const args = resolved.values;
    const activations = required(resolved, 'activations', 'the activation store to analyse');
    outDirFlag('out', args.out);
    const store = openStore(activations);
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
      rankBy: args.rankBy,
      top: args.top,
      criterion: { min_freq_a: args.minFreq, alpha: args.alpha, min_d: args.minD, fdr: args.fdr },
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
