// analyze generate: continue a chat prompt or raw token ids with the model.
import type { CommandModule } from 'yargs';
import {
  adapterOptions,
  backendSpec,
  interventionOptions,
  type WeightArgs,
  weightChoice,
  weightOptions,
} from '../lib/cli/options.ts';
import type { AdapterArgs, GlobalArgs } from '../lib/cli/options.ts';
import { openBackend } from '../lib/backend.ts';
import { parseIds, requireOne } from '../lib/cli/inputs.ts';
import { InputError } from '../lib/errors.ts';
import { checkSamplingFlags } from '../lib/cli/flags.ts';
import { applyChatTemplate } from '../lib/model/chat.ts';
import { generate } from '../lib/model/generate.ts';
import { loadModel } from '../lib/model/load.ts';
import { loadTokenizer } from '../lib/model/tokenizer.ts';
import { loadSaeFor, mergeAdapterFlag } from '../lib/session.ts';
import { SHIPPED } from '../lib/settings/shipped.ts';
import { interventionHooks, offHookNotes, parseInterventionFlags } from '../lib/steering/interventions.ts';

interface Args extends GlobalArgs, AdapterArgs, WeightArgs {
  model: string;
  prompt?: string;
  system?: string;
  ids?: string;
  'max-tokens': number;
  temperature: number;
  'top-p': number;
  'top-k': number;
  'repetition-penalty': number;
  seed: number;
  json: boolean;
  sae?: string;
  steer?: string[];
  clamp?: string[];
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'generate',
  describe: 'Generate a reply (chat prompt) or a continuation (token ids); temperature 0 is greedy',
  builder: (y) =>
    weightOptions(adapterOptions(interventionOptions(y)))
      .option('model', {
        type: 'string',
        default: SHIPPED.model,
        defaultDescription: 'data/model',
        describe: 'Hugging Face checkpoint directory',
      })
      .option('prompt', {
        type: 'string',
        describe: 'user message, rendered with the chat template and a generation prompt',
      })
      .option('system', { type: 'string', describe: 'system message (with --prompt)' })
      .option('ids', { type: 'string', describe: 'comma-separated token ids to continue, no template' })
      .option('max-tokens', { type: 'number', default: 128, describe: 'most new tokens' })
      .option('temperature', { type: 'number', default: 0, describe: '0 = greedy' })
      .option('top-p', { type: 'number', default: 1, describe: 'nucleus sampling mass (1 = off)' })
      .option('top-k', { type: 'number', default: 0, describe: 'keep the k most likely tokens (0 = off)' })
      .option('repetition-penalty', {
        type: 'number',
        default: 1,
        describe: 'transformers repetition penalty (1 = off)',
      })
      .option('seed', { type: 'number', default: 0, describe: 'sampling seed' })
      .option('json', {
        type: 'boolean',
        default: false,
        describe:
          'print {"text", "tokens", "timings", "memory"} (memory: the device bytes of the weights and the peak)',
      })
      .option('sae', { type: 'string', describe: 'SAE for --steer and --clamp' })
      .example('$0 generate --prompt "Explain how to plant a tree."', '')
      .example('$0 generate --ids 1,50,60 --max-tokens 8 --json', '')
      .example('$0 generate --adapter runs/lora --prompt "Explain how to plant a tree."', 'with a LoRA adapter')
      .example('$0 generate --model M --adapter runs/lora --merge-adapter merged/', 'only write the merged checkpoint'),
  handler: async (argv) => {
    // --merge-adapter alone only writes the merged checkpoint
    if (argv['merge-adapter'] && argv.prompt === undefined && argv.ids === undefined)
      return mergeAdapterFlag(argv.model, argv.adapter, argv['merge-adapter']);
    const source = requireOne(argv, ['prompt', 'ids']);
    if (argv.system !== undefined && source !== 'prompt') throw new InputError('--system goes with --prompt');
    checkSamplingFlags(argv);
    const interventions = parseInterventionFlags(argv.steer, argv.clamp);
    if (!argv.sae && interventions.length) throw new InputError('--steer and --clamp need --sae');
    const backend = await openBackend(backendSpec(argv));
    mergeAdapterFlag(argv.model, argv.adapter, argv['merge-adapter']);
    const model = await loadModel(argv.model, backend, { adapter: argv.adapter, ...weightChoice(argv) });
    const tokenizer = loadTokenizer(argv.model);
    const sae = argv.sae ? loadSaeFor(argv.sae, backend) : null;
    const hooks = sae ? interventionHooks(sae, interventions, model.config) : undefined;
    if (sae) for (const note of offHookNotes(interventions, sae)) console.error(note);
    const prompt =
      source === 'ids'
        ? parseIds(argv.ids!, '--ids', model.config.vocabSize)
        : applyChatTemplate(tokenizer, [{ role: 'user', content: argv.prompt! }], {
            addGenerationPrompt: true,
            system: argv.system,
          });
    const result = await generate(model, [prompt], {
      maxNewTokens: argv['max-tokens'],
      temperature: argv.temperature,
      topP: argv['top-p'],
      topK: argv['top-k'],
      repetitionPenalty: argv['repetition-penalty'],
      seeds: [argv.seed],
      stopIds: tokenizer.eosIds.length ? tokenizer.eosIds : model.config.eosTokenIds,
      hooks,
    });
    backend.close();
    if (result.nonFinite[0] >= 0)
      throw new Error(
        `non-finite logits (NaN or Inf) at generated token ${result.nonFinite[0] + 1}: the residual stream overflowed; lower the steering value`,
      );
    const tokens = result.tokens[0];
    const text = tokenizer.decode(tokens, { skipSpecialTokens: true });
    const memory = { weights_bytes: result.memory.weightsBytes, peak_bytes: result.memory.peakBytes };
    if (argv.json) console.log(JSON.stringify({ text, tokens, timings: result.timings, memory }));
    else console.log(text);
  },
};

export default command;
