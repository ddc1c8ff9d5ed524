// analyze find-otd-latents: discover the SAE latents that detect off-topic text, ranked, with evidence.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { activeBackend, initBackend, type BackendChoice } from '../lib/backend.ts';
import { loadModelAndSae } from '../lib/cli/setup.ts';
import { readPrompts, readResponses } from '../lib/discovery/responses.ts';
import { runDiscovery } from '../lib/discovery/run.ts';
import { latestRun, newRunDir, readLabels } from '../lib/discovery/runs.ts';
import { InputError } from '../lib/errors.ts';
import { findDetectors, type FindResult } from '../lib/stats/detectors.ts';
import { writeLatentSet } from '../lib/stats/latentSet.ts';
import { writeRanking } from '../lib/stats/rankingFile.ts';
import type { SelectionMethod } from '../lib/stats/selection.ts';
import type { PoolMode } from '../lib/stats/sparse.ts';
import { topTableText } from '../lib/stats/table.ts';
import { openStore } from '../lib/store/reader.ts';

interface Args {
  backend: BackendChoice;
  model: string;
  sae: string;
  layer?: number;
  prompts: string;
  responses?: string;
  derangements: number;
  span: 'response' | 'full';
  pool: PoolMode;
  method: SelectionMethod;
  top: number;
  seed: number;
  'max-tokens': number;
  temperature: number;
  'batch-size': number;
  labels?: string;
  activations?: string;
  out?: string;
  resume: boolean;
}

const COMMAND = 'find-otd-latents';

const command: CommandModule<object, Args> = {
  command: COMMAND,
  describe: 'Discover off-topic detector latents: responses → on/off-topic pairs → SAE codes → ranked latents (latents.json)',
  builder: (y) =>
    y
      .option('model', { type: 'string', default: 'data/model', describe: 'Hugging Face checkpoint directory' })
      .option('sae', { type: 'string', default: 'data/sae', describe: 'SAE path (SAELens dir, Gemma Scope npz, Goodfire .pth, safetensors)' })
      .option('layer', { type: 'number', describe: 'feature layer; default: the SAE hook layer' })
      .option('prompts', { type: 'string', default: 'data/prompts.txt', describe: 'one prompt per line' })
      .option('responses', { type: 'string', describe: 'responses instead of generating: JSON {prompt: response}, JSONL, or the paper\'s normal_responses.json' })
      .option('derangements', { type: 'number', default: 5, describe: 'off-topic pairings (derangements of the prompts)' })
      .option('span', { choices: ['response', 'full'] as const, default: 'response' as const, describe: 'pool over the response tokens or the whole conversation (the paper)' })
      .option('pool', { choices: ['max', 'mean'] as const, default: 'max' as PoolMode, describe: 'pooling over the span' })
      .option('method', { choices: ['frequency', 'separability', 'effect'] as const, default: 'separability' as SelectionMethod, describe: 'selection rule' })
      .option('top', { type: 'number', default: 100, describe: 'top-ranked latents listed in latents.json' })
      .option('seed', { type: 'number', default: 0, describe: 'seed for derangements and response sampling' })
      .option('max-tokens', { type: 'number', default: 64, describe: 'response length when generating' })
      .option('temperature', { type: 'number', default: 0.6, describe: 'response sampling temperature (0 = greedy)' })
      .option('batch-size', { type: 'number', default: 8, describe: 'sequences per forward pass' })
      .option('labels', { type: 'string', describe: 'CSV index,label of latent descriptions' })
      .option('activations', { type: 'string', describe: 'analyse an existing activation store instead of capturing' })
      .option('out', { type: 'string', describe: `run directory (default ${newRunDir(COMMAND).replace(/\d{8}-\d{6}$/, '<timestamp>')})` })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the latest unfinished run in runs/' }) as never,
  handler: async (argv) => {
    if (!(Number.isInteger(argv.derangements) && argv.derangements >= 1)) throw new InputError(`--derangements must be a positive integer, found ${argv.derangements}`);
    if (!(Number.isInteger(argv['batch-size']) && argv['batch-size'] >= 1)) throw new InputError(`--batch-size must be a positive integer, found ${argv['batch-size']}`);
    if (argv.resume && argv.out) throw new InputError('--resume continues the latest run; with --out, just rerun into that directory');
    const labels = argv.labels ? readLabels(argv.labels) : undefined;
    const span = argv.span === 'full' ? 'all' : 'response';
    const find = { pool: argv.pool, method: argv.method, top: argv.top, span };
    const out = argv.out ?? (argv.resume ? latestRun(COMMAND, (d) => !existsSync(join(d, 'latents.json'))) : null) ?? newRunDir(COMMAND);
    const started = Date.now();
    let result: FindResult;
    if (argv.activations) {
      result = await findDetectors(openStore(argv.activations), find);
      writeRanking(join(out, 'ranking.arrow'), result.stats, result.order, result.selected);
      writeLatentSet(join(out, 'latents.json'), result.latentSet);
    } else {
      const prompts = readPrompts(argv.prompts);
      const responses = argv.responses ? readResponses(argv.responses, prompts) : null;
      await initBackend(argv.backend);
      const setup = loadModelAndSae(argv.model, argv.sae, argv.layer);
      console.error(`run directory: ${out}`);
      result = await runDiscovery(setup, {
        out, prompts, responses, span, find, labels, seed: argv.seed, derangements: argv.derangements, batchSize: argv['batch-size'],
        generation: { maxNewTokens: argv['max-tokens'], temperature: argv.temperature, topK: 0, topP: 1, repetitionPenalty: 1.1, seed: argv.seed, batchSize: argv['batch-size'] },
        paths: { model: argv.model, sae: argv.sae, prompts: argv.prompts, responses: argv.responses ?? null },
        backend: activeBackend(),
        log: (line) => console.error(line),
      });
    }
    const s = result.stats;
    console.log(`${s.n_a} off-topic vs ${s.n_b} on-topic samples; ${result.latentSet.selected.length} latents pass the ${result.criterion.method} rule (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    console.log(topTableText(result, 10, labels));
    console.log(`wrote ${join(out, 'latents.json')}, ranking.arrow, summary.md`);
  },
};

export default command;
