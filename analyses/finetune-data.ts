// analyze finetune-data: self-correction training data (axolotl input_output segments) at one or many masked ratios.
import type { CommandModule } from 'yargs';
import { openBackend } from '../lib/backend.ts';
import { checkSamplingFlags, intFlag, numberFlag, outDirFlag } from '../lib/cli/flags.ts';
import { adapterOptions, backendSpec, weightChoice, weightOptions } from '../lib/cli/options.ts';
import type { AdapterArgs, GlobalArgs, WeightArgs } from '../lib/cli/options.ts';
import { InputError } from '../lib/errors.ts';
import { buildFinetuneData, parseRatios } from '../lib/finetune/build.ts';
import { DEFAULT_CORRECTIONS, readCorrections } from '../lib/finetune/corrections.ts';
import { readPrompts } from '../lib/io/inputs.ts';
import { loadModel } from '../lib/model/load.ts';
import { loadTokenizer } from '../lib/model/tokenizer.ts';
import { localExecutor } from '../lib/parallel/pool.ts';
import { newRunDir } from '../lib/runs/dirs.ts';
import { SHIPPED } from '../lib/settings/shipped.ts';

const COMMAND = 'finetune-data';

interface Args extends GlobalArgs, AdapterArgs, WeightArgs {
  model: string;
  prompts?: string;
  responses?: string;
  'responses-per-prompt': number;
  'max-tokens': number;
  temperature: number;
  'top-p': number;
  'batch-size': number;
  'masked-ratio': string[];
  seed: number;
  validation: number;
  'distraction-sentences': string;
  corrections?: string;
  system?: string;
  llm?: string;
  'llm-base-url'?: string;
  'llm-concurrency': number;
  out?: string;
}

/** MIN-MAX (or one number) of sentences. */
function parseSentences(v: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(v.trim());
  if (!m) throw new InputError(`--distraction-sentences ${v}: expected N or MIN-MAX, e.g. 1-2`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

const command: CommandModule<GlobalArgs, Args> = {
  command: COMMAND,
  describe:
    'Self-correction fine-tuning data: prompt → distraction (masked) → correction + answer, mixed with normal responses at --masked-ratio (axolotl input_output JSONL)',
  builder: (y) =>
    weightOptions(adapterOptions(y))
      .option('model', {
        type: 'string',
        default: SHIPPED.model,
        defaultDescription: 'data/model',
        describe:
          'the model to fine-tune: its chat template renders the examples (and it writes the responses when none are given)',
      })
      .option('prompts', {
        type: 'string',
        describe: 'one prompt per line (default: data/prompts.txt, or every prompt of --responses)',
      })
      .option('responses', {
        type: 'string',
        describe:
          "normal responses instead of generating: JSON {prompt: response | [responses]}, the paper's normal_responses.json, or JSONL {prompt, response} (several lines per prompt allowed)",
      })
      .option('responses-per-prompt', {
        type: 'number',
        default: 1,
        describe: 'responses to generate per prompt (each one example)',
      })
      .option('max-tokens', { type: 'number', default: 256, describe: 'most new tokens per generated response' })
      .option('temperature', { type: 'number', default: 0.6, describe: 'sampling temperature of generated responses' })
      .option('top-p', { type: 'number', default: 1, describe: 'nucleus sampling mass of generated responses' })
      .option('batch-size', { type: 'number', default: 8, describe: 'prompts per generation batch' })
      .option('masked-ratio', {
        type: 'string',
        array: true,
        default: ['50'],
        describe:
          'percent of examples that are masked self-corrections; one or many (10,20,30 or repeated): one dataset each',
      })
      .option('seed', {
        type: 'number',
        default: 0,
        describe: 'seed of the split, pairings, phrases and masking order (and of generation)',
      })
      .option('validation', {
        type: 'number',
        default: 0.1,
        describe: 'share of prompts held out for validation (split by prompt; 0 = none)',
      })
      .option('distraction-sentences', {
        type: 'string',
        default: '1-2',
        describe: "sentences of another prompt's response a distraction takes (N or MIN-MAX, drawn per example)",
      })
      .option('corrections', {
        type: 'string',
        describe: 'correction phrases, one per line (default: 12 built-in phrases)',
      })
      .option('system', { type: 'string', describe: 'system message of every example' })
      .option('llm', {
        type: 'string',
        describe:
          "anthropic:<model> or openai:<model>: an LLM writes each distraction (about the paired prompt's subject) instead",
      })
      .option('llm-base-url', {
        type: 'string',
        describe: 'endpoint of an Anthropic- or OpenAI-compatible server for --llm',
      })
      .option('llm-concurrency', { type: 'number', default: 4, describe: '--llm requests in flight at once' })
      .option('out', {
        type: 'string',
        describe: 'output directory (default runs/finetune-data-<timestamp>); rerunning resumes',
      })
      .example(
        '$0 finetune-data --masked-ratio 10,30,50,70,90 --responses-per-prompt 8',
        'five datasets from the shipped model',
      )
      .example('$0 finetune-data --model PATH --responses normal_responses.json --masked-ratio 50 --out runs/sc50', ''),
  handler: async (argv) => {
    const ratios = parseRatios(argv['masked-ratio']);
    intFlag('responses-per-prompt', argv['responses-per-prompt'], 1);
    intFlag('batch-size', argv['batch-size'], 1);
    intFlag('llm-concurrency', argv['llm-concurrency'], 1);
    numberFlag('validation', argv.validation, 0, 1, { max: true });
    checkSamplingFlags({
      'max-tokens': argv['max-tokens'],
      temperature: argv.temperature,
      'top-p': argv['top-p'],
      seed: argv.seed,
    });
    if (argv['merge-adapter'])
      throw new InputError(
        '--merge-adapter: finetune-data does not merge; use analyze generate --adapter A --merge-adapter OUT',
      );
    if (argv['llm-base-url'] && !argv.llm) throw new InputError('--llm-base-url goes with --llm');
    outDirFlag('out', argv.out);
    const out = argv.out ?? newRunDir(COMMAND);
    const prompts = argv.prompts ? readPrompts(argv.prompts) : argv.responses ? null : readPrompts(SHIPPED.prompts);
    const corrections = argv.corrections
      ? { phrases: readCorrections(argv.corrections), source: argv.corrections }
      : { phrases: DEFAULT_CORRECTIONS, source: 'built-in' };
    const tokenizer = loadTokenizer(argv.model);
    const result = await buildFinetuneData({
      out,
      model: argv.model,
      adapter: argv.adapter ?? null,
      tokenizer,
      prompts,
      promptsPath: argv.prompts ?? (prompts ? SHIPPED.prompts : null),
      responsesPath: argv.responses ?? null,
      perPrompt: argv['responses-per-prompt'],
      generation: {
        maxNewTokens: argv['max-tokens'],
        temperature: argv.temperature,
        topP: argv['top-p'],
        seed: argv.seed,
        batchSize: argv['batch-size'],
      },
      ratios,
      seed: argv.seed,
      validation: argv.validation,
      distractionSentences: parseSentences(argv['distraction-sentences']),
      corrections,
      system: argv.system ?? null,
      llm: argv.llm
        ? { spec: argv.llm, judge: { baseUrl: argv['llm-base-url'] ?? null }, concurrency: argv['llm-concurrency'] }
        : null,
      openExecutor: async () => {
        const backend = await openBackend(backendSpec(argv));
        const model = await loadModel(argv.model, backend, { adapter: argv.adapter, ...weightChoice(argv) });
        const stopIds = tokenizer.eosIds.length ? tokenizer.eosIds : model.config.eosTokenIds;
        const executor = localExecutor({ model, sae: null });
        return { executor: { ...executor, close: async () => backend.close() }, stopIds };
      },
      log: (line) => console.error(line),
    });
    for (const r of result.ratios) {
      const v = r.validation;
      console.log(
        `masked ${r.masked_ratio}%: train ${r.train.examples} examples (${r.train.masked} masked, ${r.train.normal} normal, ${r.train.prompts} prompts)` +
          (v ? `, validation ${v.examples} (${v.masked} masked, ${v.prompts} prompts)` : '') +
          ` → ${r.dir}/`,
      );
    }
    console.log(`wrote ${out}: ${result.ratios.length} dataset(s), examples.jsonl, manifest.json`);
  },
};

export default command;
