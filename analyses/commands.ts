// Every subcommand of `analyze`, in the order `--help` lists them. Add a new command's module here.
import type { CommandModule } from 'yargs';
import judge from './judge.ts';

export const commands: CommandModule<any, any>[] = [judge];
