// `analyze report DIR`: one self-contained report.html for a run directory.
import type { CommandModule } from 'yargs';
import { outFileFlag } from '../lib/cli/flags.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { cliInput, settingOptions } from '../lib/cli/settings.ts';
import { REPORT_SETTINGS } from '../lib/report/settings.ts';
import { type CliArgs, resolveSettings } from '../lib/settings/table.ts';

/** Every flag of the command (docs/commands.md's table is generated from it). */
export const SETTINGS = REPORT_SETTINGS;
type Args = GlobalArgs & CliArgs<typeof SETTINGS> & { dir: string };

const command: CommandModule<GlobalArgs, Args> = {
  command: 'report <dir>',
  describe:
    'Write a self-contained HTML report (figures, tables, judge and method notes, provenance) of a run directory',
  builder: (y) =>
    settingOptions(y, SETTINGS).positional('dir', { type: 'string', demandOption: true, describe: 'run directory' }),
  handler: async (args) => {
    const v = resolveSettings(SETTINGS, cliInput(SETTINGS, args)).values;
    const out = v.out ?? undefined;
    outFileFlag('out', out);
    const { writeReport } = await import('../lib/report/build.ts'); // the plotting libraries load only here
    const path = await writeReport(args.dir, out, { boostLabel: v.boostLabel ?? undefined, examples: v.examples });
    console.log(`wrote ${path}`);
  },
};

export default command;
