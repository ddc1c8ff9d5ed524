// analyze forward: one forward pass, writing logits and every layer's resid_post (and SAE codes at a hook point) to a safetensors file.
import type { CommandModule } from 'yargs';
import { outFileFlag } from '../lib/cli/flags.ts';
import { parseIds, readChatFile, requireOne } from '../lib/cli/inputs.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { openModelFrom } from '../lib/cli/session.ts';
import { cliInput, joinTables, settingOptions } from '../lib/cli/settings.ts';
import { SettingError, settingRef as ref } from '../lib/errors.ts';
import { type F32Tensor, writeSafetensors } from '../lib/io/safetensors.ts';
import { applyChatTemplate } from '../lib/model/chat.ts';
import { type HookPoint, hookName, resolveHook } from '../lib/model/hooks.ts';
import { loadTokenizer } from '../lib/model/tokenizer.ts';
import { denseCodes, encodeSparse } from '../lib/sae/index.ts';
import { checkSaeAt, featureHook, mergeAdapterFlag } from '../lib/session.ts';
import { FORWARD_SETTINGS } from '../lib/settings/forward.ts';
import { optionalSae } from '../lib/settings/generate.ts';
import { MODEL_SETTINGS } from '../lib/settings/session.ts';
import { type CliArgs, required, resolveSettings } from '../lib/settings/table.ts';
import { interventionHooks, offHookNotes } from '../lib/steering/interventions.ts';
import { INTERVENTION_SETTINGS } from '../lib/steering/settings.ts';

/** Every flag of the command (docs/commands.md's table is generated from it). */
export const SETTINGS = joinTables(
  joinTables(MODEL_SETTINGS, FORWARD_SETTINGS),
  joinTables({ sae: optionalSae('SAE for ‹steer›, ‹clamp› and ‹codes›') }, INTERVENTION_SETTINGS),
);
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

const command: CommandModule<GlobalArgs, Args> = {
  command: 'forward',
  describe:
    'Run one forward pass; write logits [T, vocab] and resid_post.L [T, d_model] for every layer (f32 safetensors)',
  builder: (y) =>
    settingOptions(y, SETTINGS).example(
      '$0 forward --model data/model --text "Explain how to bake bread." --out acts.safetensors',
      '',
    ),
  handler: async (argv) => {
    const input = cliInput(SETTINGS, argv);
    const resolved = resolveSettings(SETTINGS, input); // every flag checked before any work
    const v = resolved.values;
    // --merge-adapter alone only writes the merged checkpoint
    if (v.mergeAdapter && v.text === undefined && v.chat === undefined && v.ids === undefined)
      return mergeAdapterFlag(v.model, v.adapter, v.mergeAdapter);
    const source = requireOne(input, ['text', 'chat', 'ids']);
    const out = required(resolved, 'out', 'the safetensors file to write');
    outFileFlag('out', out);
    const interventions = [...v.steer, ...v.clamp];
    if (!v.sae && (interventions.length || v.codes !== undefined))
      throw new SettingError(`${ref('steer')}, ${ref('clamp')} and ${ref('codes')} need ${ref('sae')}`);
    const { backend, model, sae } = await openModelFrom(argv, v);
    let codesAt: HookPoint | null = null;
    if (sae && v.codes !== undefined) {
      codesAt =
        v.codes === ''
          ? featureHook(sae, model.config, { setting: 'codes' })
          : resolveHook(v.codes, model.config, ref('codes'));
      checkSaeAt(sae, codesAt, model.config);
    }
    const hooks = sae ? interventionHooks(sae, interventions, model.config) : undefined;
    if (sae) for (const note of offHookNotes(interventions, sae)) console.error(note);
    let ids: number[];
    if (source === 'ids') ids = parseIds(v.ids!, '--ids', model.config.vocabSize);
    else {
      const tokenizer = loadTokenizer(v.model);
      ids =
        source === 'text'
          ? tokenizer.encode(v.text!).ids
          : applyChatTemplate(tokenizer, readChatFile(v.chat!), { addGenerationPrompt: v.addGenerationPrompt });
    }
    const layers = Array.from({ length: model.config.numLayers }, (_, l) => l);
    const residNames = layers.map((layer) => hookName({ kind: 'resid_post', layer }));
    const codesName = codesAt ? hookName(codesAt) : null;
    const cache = model.newCache(1, ids.length);
    const result = await model.forward([ids], cache, {
      read: codesName ? [...residNames, codesName] : residNames,
      hooks,
    });
    const T = ids.length;
    const tensors: Record<string, F32Tensor> = {
      logits: { shape: [T, model.config.vocabSize], data: (await result.logits!.data()) as Float32Array },
    };
    const f32 = async (name: string): Promise<F32Tensor> => {
      const t = result.acts.get(name)!;
      return { shape: t.shape, data: (await t.data()) as Float32Array };
    };
    for (const l of layers) tensors[`resid_post.${l}`] = await f32(residNames[l]);
    if (sae && codesAt && codesName) {
      // resid_post.L keeps its short name codes.L; any other hook point is written under its full name, with its activation
      const short = codesAt.kind === 'resid_post';
      if (!short) tensors[codesName] = await f32(codesName);
      tensors[short ? `codes.${codesAt.layer}` : `codes.${codesName}`] = {
        shape: [T, sae.dSae],
        data: denseCodes(await encodeSparse(sae, result.acts.get(codesName)!)),
      };
    }
    result.logits!.dispose();
    result.acts.forEach((t) => t.dispose());
    writeSafetensors(out, tensors, { input_ids: ids.join(','), interventions: JSON.stringify(interventions) });
    cache.dispose();
    backend.close();
    console.log(
      `wrote ${out}: ${Object.entries(tensors)
        .map(([k, t]) => `${k} [${t.shape}]`)
        .join(', ')}`,
    );
  },
};

export default command;
