// The `analyze` command line: one module per subcommand in this folder, each thin over lib/.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { backendOption } from '../lib/cli/options.ts';
import { exitCodeFor, flagOf, InputError, SettingError } from '../lib/errors.ts';
import { addCommands } from './commands.ts';

const cli = backendOption(yargs(hideBin(process.argv)))
  .scriptName('analyze')
  .usage('$0 <command> [options]')
  .demandCommand(1, 'Name a command.')
  .strict()
  .recommendCommands()
  .help()
  .alias('help', 'h')
  .version()
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .fail((msg, err) => {
    if (err) throw err;
    console.error(`${msg}\n\nRun with --help for usage.`);
    process.exit(2);
  });

addCommands(cli);

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
cli.middleware(onceOnly, true);

// C0 controls except tab and newline, DEL and C1 controls: escaped in error messages.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the bytes being escaped
const CONTROL_BYTES = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

try {
  await cli.parseAsync();
} catch (err) {
  const e = err as Error;
  // the library names settings (maxTokens); here they are flags (--max-tokens)
  const message = e instanceof SettingError ? e.render(flagOf) : String(e.message);
  // never echo raw control bytes (from a binary file) to the terminal
  console.error(
    `error: ${message.replace(CONTROL_BYTES, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`,
  );
  if (process.env.ESR_DEBUG) console.error(e.stack);
  process.exit(exitCodeFor(err));
}
