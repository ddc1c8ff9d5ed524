// The `analyze` command line as a function: parses the arguments, runs the command and says how it ended as
// an exit code, printing what the command line prints. analyses/cli.ts runs it on the process's arguments;
// tests run refusals (exit 2 before any work) through it without starting a process each.
import yargs from 'yargs';
import { backendOption } from '../lib/cli/options.ts';
import { exitCodeFor, flagOf, InputError, SettingError } from '../lib/errors.ts';
import { addCommands } from './commands.ts';

/** yargs' own refusals (unknown command or flag, missing argument), printed as yargs words them. */
class UsageError extends Error {}

// A flag given twice that takes one value (yargs makes it a list, which no handler expects): refused,
// naming it, instead of a TypeError deep in a handler.
// (yargs passes the command's own instance second; its types list only argv, so it is optional here)
const onceOnly = (argv: Record<string, unknown>, y?: { getOptions(): { array: string[] } }): void => {
  if (!y) return;
  const lists = new Set(y.getOptions().array);
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || !Array.isArray(value) || lists.has(key) || /[A-Z]/.test(key)) continue;
    throw new InputError(`--${key}: given ${value.length} times (${value.map(String).join(', ')}); give it once`);
  }
};

/** A new parser for `args` with every command (yargs keeps state in its instance, so one per run). */
function parser(args: string[]) {
  const cli = backendOption(yargs(args))
    .scriptName('analyze')
    .usage('$0 <command> [options]')
    .demandCommand(1, 'Name a command.')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .exitProcess(false) // --help and --version end the run here, not the process
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  addCommands(cli);
  cli.middleware(onceOnly, true);
  return cli;
}

// C0 controls except tab and newline, DEL and C1 controls: escaped in error messages.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the bytes being escaped
const CONTROL_BYTES = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** Runs `analyze args` (the arguments after the program's name); resolves with its exit code. */
export async function runAnalyze(args: string[]): Promise<number> {
  try {
    await parser(args).parseAsync();
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\nRun with --help for usage.`);
      return 2;
    }
    const e = err as Error;
    // the library names settings (maxTokens); here they are flags (--max-tokens)
    const message = e instanceof SettingError ? e.render(flagOf) : String(e.message);
    // never echo raw control bytes (from a binary file) to the terminal
    console.error(
      `error: ${message.replace(CONTROL_BYTES, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`,
    );
    if (process.env.ESR_DEBUG) console.error(e.stack);
    return exitCodeFor(err);
  }
}
