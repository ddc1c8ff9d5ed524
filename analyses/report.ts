// `analyze report DIR`: one self-contained report.html for a run directory.
import { intFlag, outFileFlag } from '../lib/cli/flags.ts';
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { writeReport } from '../lib/report/build.ts';

interface Args extends GlobalArgs {
  dir: string;
  out?: string;
  'boost-label'?: string;
  examples: number;
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'report <dir>',
  describe:
    'Write a self-contained HTML report (figures, tables, judge and method notes, provenance) of a run directory',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'run directory' })
      .option('out', { type: 'string', describe: 'output file (default DIR/report.html)' })
      .option('boost-label', { type: 'string', describe: 'x-axis label of the boost sweep figure (default "boost")' })
      .option('examples', {
        type: 'number',
        default: 3,
        describe: 'example responses per condition, attempts marked and scored (0 = none)',
      }),
  handler: async (args) => {
    outFileFlag('out', args.out);
    intFlag('examples', args.examples, 0);
    const path = await writeReport(args.dir, args.out, { boostLabel: args['boost-label'], examples: args.examples });
    console.log(`wrote ${path}`);
  },
};

export default command;
