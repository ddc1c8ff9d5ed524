// Every subcommand of `analyze`, in the order `--help` lists them. Add a new command's module here.
import type { Argv, CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import ablate from './ablate.ts';
import capture from './capture.ts';
import findOtdLatents from './find-otd-latents.ts';
import finetuneData from './finetune-data.ts';
import forward from './forward.ts';
import generate from './generate.ts';
import judge from './judge.ts';
import merge from './merge.ts';
import metrics from './metrics.ts';
import plot from './plot.ts';
import report from './report.ts';
import stats from './stats.ts';

/** Every command, in `--help` order. */
export const COMMANDS = [
  findOtdLatents,
  ablate,
  forward,
  generate,
  capture,
  finetuneData,
  stats,
  metrics,
  judge,
  merge,
  plot,
  report,
] as const;

/** Registers every command on the top-level parser; each module's flags are type-checked against its Args. */
export function addCommands(cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  for (const command of COMMANDS) cli.command(command as CommandModule<GlobalArgs, never>);
  return cli;
}
