// Every subcommand of `analyze`, in the order `--help` lists them. Add a new command's module here.
import type { CommandModule } from 'yargs';

export const commands: CommandModule<any, any>[] = [];
