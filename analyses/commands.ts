// Every subcommand of `analyze`, in the order `--help` lists them. Add a new command's module here.
import type { CommandModule } from 'yargs';
import ablate from './ablate.ts';
import capture from './capture.ts';
import findOtdLatents from './find-otd-latents.ts';
import forward from './forward.ts';
import generate from './generate.ts';
import judge from './judge.ts';
import metrics from './metrics.ts';
import plot from './plot.ts';
import report from './report.ts';
import stats from './stats.ts';

export const commands: CommandModule<any, any>[] = [findOtdLatents, ablate, forward, generate, capture, stats, metrics, judge, plot, report];
