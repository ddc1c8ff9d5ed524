// `analyze plot DIR`: (re)draws every figure a run directory's files allow into DIR/figures/.
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { writeFigures } from '../lib/plot/run.ts';
import { join } from 'node:path';

interface Args extends GlobalArgs {
  dir: string;
  'boost-label'?: string;
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'plot <dir>',
  describe: 'Draw the figures of a run directory (find-otd-latents, ablate) into DIR/figures/ as SVG and PNG',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'run directory' })
      .option('boost-label', { type: 'string', describe: 'x-axis label of the boost sweep figure (default "boost")' }),
  handler: async (args) => {
    const written = await writeFigures(args.dir, { boostLabel: args['boost-label'] });
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
