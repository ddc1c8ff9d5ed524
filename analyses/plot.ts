// `analyze plot DIR`: (re)draws every figure a run directory's files allow into DIR/figures/.
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { cliInput, settingOptions } from '../lib/cli/settings.ts';
import { PLOT_SETTINGS } from '../lib/plot/settings.ts';
import { type CliArgs, resolveSettings } from '../lib/settings/table.ts';

/** Every flag of the command (docs/commands.md's table is generated from it). */
export const SETTINGS = PLOT_SETTINGS;
type Args = GlobalArgs & CliArgs<typeof SETTINGS> & { dir: string };

const command: CommandModule<GlobalArgs, Args> = {
  command: 'plot <dir>',
  describe: 'Draw the figures of a run directory (find-otd-latents, ablate) into DIR/figures/ as SVG and PNG',
  builder: (y) =>
    settingOptions(y, SETTINGS).positional('dir', { type: 'string', demandOption: true, describe: 'run directory' }),
  handler: async (args) => {
    const v = resolveSettings(SETTINGS, cliInput(SETTINGS, args)).values;
    const { writeFigures } = await import('../lib/plot/run.ts'); // the plotting libraries load only here
    const written = await writeFigures(args.dir, { boostLabel: v.boostLabel ?? undefined });
    if (written.length === 0) {
      console.log(
        `${args.dir}: no figure to draw (no latents.json, ranking.arrow, activations.acts/, metrics.json or trials.jsonl)`,
      );
      return;
    }
    for (const f of written) console.log(`  ${f.name}: ${f.title}`);
    console.log(`wrote ${written.length} figures (SVG + PNG) to ${join(args.dir, 'figures')}`);
  },
};

export default command;
