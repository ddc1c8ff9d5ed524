// analyze generate: continue a chat prompt or raw token ids with the model.
import type { CommandModule } from 'yargs';
import { parseIds, requireOne } from '../lib/cli/inputs.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { openModelFrom } from '../lib/cli/session.ts';
import { cliInput, joinTables, settingOptions } from '../lib/cli/settings.ts';
import { SettingError, settingRef as ref } from '../lib/errors.ts';
import { applyChatTemplate } from '../lib/model/chat.ts';
import { generate } from '../lib/model/generate.ts';
import { loadTokenizer } from '../lib/model/tokenizer.ts';
import { mergeAdapterFlag } from '../lib/session.ts';
import { GENERATE_SETTINGS, optionalSae } from '../lib/settings/generate.ts';
import { samplingOf } from '../lib/settings/sampling.ts';
import { MODEL_SETTINGS } from '../lib/settings/session.ts';
import { type CliArgs, resolveSettings } from '../lib/settings/table.ts';
import { interventionHooks, offHookNotes } from '../lib/steering/interventions.ts';
import { INTERVENTION_SETTINGS } from '../lib/steering/settings.ts';

/** Every flag of the command (docs/commands.md's table is generated from it). */
export const SETTINGS = joinTables(
  joinTables(MODEL_SETTINGS, GENERATE_SETTINGS),
  joinTables({ sae: optionalSae('SAE for ‹steer› and ‹clamp›') }, INTERVENTION_SETTINGS),
);
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

const command: CommandModule<GlobalArgs, Args> = {
  command: 'generate',
  describe: 'Generate a reply (chat prompt) or a continuation (token ids); temperature 0 is greedy',
  builder: (y) =>
    settingOptions(y, SETTINGS)
      .example('$0 generate --prompt "Explain how to plant a tree."', '')
      .example('$0 generate --ids 1,50,60 --max-tokens 8 --json', '')
      .example('$0 generate --adapter runs/lora --prompt "Explain how to plant a tree."', 'with a LoRA adapter')
      .example('$0 generate --model M --adapter runs/lora --merge-adapter merged/', 'only write the merged checkpoint'),
  handler: async (argv) => {
    const input = cliInput(SETTINGS, argv);
    const v = resolveSettings(SETTINGS, input).values; // every flag checked before any work
    // --merge-adapter alone only writes the merged checkpoint
    if (v.mergeAdapter && v.prompt === undefined && v.ids === undefined)
      return mergeAdapterFlag(v.model, v.adapter, v.mergeAdapter);
    const source = requireOne(input, ['prompt', 'ids']);
    const interventions = [...v.steer, ...v.clamp];
    if (!v.sae && interventions.length)
      throw new SettingError(`${ref('steer')} and ${ref('clamp')} need ${ref('sae')}`);
    const { backend, model, sae } = await openModelFrom(argv, v);
    const tokenizer = loadTokenizer(v.model);
    const hooks = sae ? interventionHooks(sae, interventions, model.config) : undefined;
    if (sae) for (const note of offHookNotes(interventions, sae)) console.error(note);
    const prompt =
      source === 'ids'
        ? parseIds(v.ids!, '--ids', model.config.vocabSize)
        : applyChatTemplate(tokenizer, [{ role: 'user', content: v.prompt! }], {
            addGenerationPrompt: true,
            system: v.system,
          });
    const result = await generate(model, [prompt], {
      ...samplingOf(v),
      seeds: [v.seed],
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
    if (v.json) console.log(JSON.stringify({ text, tokens, timings: result.timings, memory }));
    else console.log(text);
  },
};

export default command;
