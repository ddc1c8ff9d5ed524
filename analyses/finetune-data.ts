// analyze finetune-data: self-correction training data (axolotl input_output segments) at one or many masked ratios.
import type { CommandModule } from 'yargs';
import { outDirFlag } from '../lib/cli/flags.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { openModelFrom } from '../lib/cli/session.ts';
import { cliInput, settingOptions } from '../lib/cli/settings.ts';
import { SettingError, settingRef as ref } from '../lib/errors.ts';
import { buildFinetuneData } from '../lib/finetune/build.ts';
import { DEFAULT_CORRECTIONS, readCorrections } from '../lib/finetune/corrections.ts';
import { FINETUNE_DATA_SETTINGS } from '../lib/finetune/settings.ts';
import { readPrompts } from '../lib/io/inputs.ts';
import { loadTokenizer } from '../lib/model/tokenizer.ts';
import { localExecutor } from '../lib/parallel/pool.ts';
import { newRunDir } from '../lib/runs/dirs.ts';
import { type CliArgs, resolveSettings } from '../lib/settings/table.ts';
import { SHIPPED } from '../lib/settings/shipped.ts';

const COMMAND = 'finetune-data';

/** Every flag of the command (docs/commands.md's table is generated from it). */
export const SETTINGS = FINETUNE_DATA_SETTINGS;
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

const command: CommandModule<GlobalArgs, Args> = {
  command: COMMAND,
  describe:
    'Self-correction fine-tuning data: prompt → distraction (masked) → correction + answer, mixed with normal responses at --masked-ratio (axolotl input_output JSONL)',
  builder: (y) =>
    settingOptions(y, SETTINGS)
      .example(
        '$0 finetune-data --masked-ratio 10,30,50,70,90 --responses-per-prompt 8',
        'five datasets from the shipped model',
      )
      .example('$0 finetune-data --model PATH --responses normal_responses.json --masked-ratio 50 --out runs/sc50', ''),
  handler: async (argv) => {
    const v = resolveSettings(SETTINGS, cliInput(SETTINGS, argv)).values; // every flag checked before any work
    if (v.mergeAdapter)
      throw new SettingError(
        `${ref('mergeAdapter')}: finetune-data does not merge; use analyze generate ${ref('adapter')} A ${ref('mergeAdapter')} OUT`,
      );
    outDirFlag('out', v.out ?? undefined);
    const out = v.out ?? newRunDir(COMMAND);
    const prompts = v.prompts ? readPrompts(v.prompts) : v.responses ? null : readPrompts(SHIPPED.prompts);
    const corrections = v.corrections
      ? { phrases: readCorrections(v.corrections), source: v.corrections }
      : { phrases: DEFAULT_CORRECTIONS, source: 'built-in' };
    const tokenizer = loadTokenizer(v.model);
    const result = await buildFinetuneData({
      out,
      model: v.model,
      adapter: v.adapter ?? null,
      tokenizer,
      prompts,
      promptsPath: v.prompts ?? (prompts ? SHIPPED.prompts : null),
      responsesPath: v.responses ?? null,
      perPrompt: v.responsesPerPrompt,
      generation: {
        maxNewTokens: v.maxTokens,
        temperature: v.temperature,
        topP: v.topP,
        seed: v.seed,
        batchSize: v.batchSize,
      },
      ratios: v.maskedRatio,
      seed: v.seed,
      validation: v.validation,
      distractionSentences: v.distractionSentences,
      corrections,
      system: v.system ?? null,
      llm: v.llm ? { spec: v.llm, judge: { baseUrl: v.llmBaseUrl ?? null }, concurrency: v.llmConcurrency } : null,
      openExecutor: async () => {
        const { backend, model } = await openModelFrom(argv, v);
        const stopIds = tokenizer.eosIds.length ? tokenizer.eosIds : model.config.eosTokenIds;
        const executor = localExecutor({ model, sae: null });
        return { executor: { ...executor, close: async () => backend.close() }, stopIds };
      },
      log: (line) => console.error(line),
    });
    for (const r of result.ratios) {
      const val = r.validation;
      console.log(
        `masked ${r.masked_ratio}%: train ${r.train.examples} examples (${r.train.masked} masked, ${r.train.normal} normal, ${r.train.prompts} prompts)` +
          (val ? `, validation ${val.examples} (${val.masked} masked, ${val.prompts} prompts)` : '') +
          ` → ${r.dir}/`,
      );
    }
    console.log(`wrote ${out}: ${result.ratios.length} dataset(s), examples.jsonl, manifest.json`);
  },
};

export default command;
