// The `analyze` command line: one module per subcommand in this folder, each thin over lib/.
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES } from '../lib/backend.ts';
import { exitCodeFor } from '../lib/errors.ts';
import { commands } from './commands.ts';

const cli = yargs(hideBin(process.argv))
  .scriptName('analyze')
  .usage('$0 <command> [options]')
  .option('backend', {
    choices: BACKEND_CHOICES,
    default: 'auto',
    describe: 'numeric backend: native TensorFlow (node-gpu, node) when installed, else wasm, else cpu',
    global: true,
  })
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

for (const command of commands) cli.command(command as CommandModule);

try {
  await cli.parseAsync();
} catch (err) {
  const e = err as Error;
  console.error(`error: ${e.message}`);
  if (process.env.ESR_DEBUG) console.error(e.stack);
  process.exit(exitCodeFor(err));
}
