// Every subcommand of `analyze`, in the order `--help` lists them. Add a new command's module here.
import type { Argv } from 'yargs';
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

/** Registers every command on the top-level parser; each module's flags are type-checked against its Args. */
export function addCommands(cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli
    .command(findOtdLatents)
    .command(ablate)
    .command(forward)
    .command(generate)
    .command(capture)
    .command(finetuneData)
    .command(stats)
    .command(metrics)
    .command(judge)
    .command(merge)
    .command(plot)
    .command(report);
}
