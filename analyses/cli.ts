// The `analyze` command line: one module per subcommand in this folder, each thin over lib/ (analyses/main.ts
// parses and runs them).
import { hideBin } from 'yargs/helpers';
import { runAnalyze } from './main.ts';

const code = await runAnalyze(hideBin(process.argv));
// a failed run ends here, whatever it left running; a finished one ends when its work is done
if (code !== 0) process.exit(code);
