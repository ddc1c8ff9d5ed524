// analyze forward: one forward pass, writing logits and every layer's resid_post (and SAE codes at a hook point) to a safetensors file.
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
import { parseIds, readChatFile, requireOne } from '../lib/cli/inputs.ts';
import { writeSafetensors, type F32Tensor } from '../lib/io/safetensors.ts';
import { applyChatTemplate } from '../lib/model/chat.ts';
import { loadModel } from '../lib/model/load.ts';
import { loadTokenizer } from '../lib/model/tokenizer.ts';
import { InputError } from '../lib/errors.ts';
import { SHIPPED } from '../lib/settings/shipped.ts';
import { outFileFlag } from '../lib/cli/flags.ts';
import { type HookPoint, hookName, resolveHook } from '../lib/model/hooks.ts';
import { denseCodes, encodeSparse } from '../lib/sae/index.ts';
import { checkSaeAt, featureHook, loadSaeFor, mergeAdapterFlag } from '../lib/session.ts';
import { interventionHooks, offHookNotes, parseInterventionFlags } from '../lib/steering/interventions.ts';

interface Args extends GlobalArgs, AdapterArgs, WeightArgs {
  model: string;
  text?: string;
  chat?: string;
  ids?: string;
  'add-generation-prompt': boolean;
  out: string;
  sae?: string;
  steer?: string[];
  clamp?: string[];
  codes?: string;
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'forward',
  describe:
    'Run one forward pass; write logits [T, vocab] and resid_post.L [T, d_model] for every layer (f32 safetensors)',
  builder: (y) =>
    weightOptions(adapterOptions(interventionOptions(y)))
      .option('model', {
        type: 'string',
        default: SHIPPED.model,
        defaultDescription: 'data/model',
        describe: 'Hugging Face checkpoint directory',
      })
      .option('text', {
        type: 'string',
        describe: 'raw text, tokenized with the model tokenizer (special tokens added as transformers does)',
      })
      .option('chat', {
        type: 'string',
        describe: 'JSON file [{"role","content"}...], rendered with the chat template',
      })
      .option('ids', { type: 'string', describe: 'comma-separated token ids' })
      .option('add-generation-prompt', {
        type: 'boolean',
        default: false,
        describe: 'with --chat: append the assistant header',
      })
      .option('out', { type: 'string', demandOption: true, describe: 'output .safetensors file' })
      .option('sae', { type: 'string', describe: 'SAE for --steer, --clamp and --codes' })
      .option('codes', {
        type: 'string',
        describe:
          "also write SAE codes [T, d_sae] (after interventions) at a hook point: a hook name or a layer number L (= resid_post.L, written as codes.L); no value: the SAE's own hook point",
      })
      .example('$0 forward --model data/model --text "Explain how to bake bread." --out acts.safetensors', ''),
  handler: async (argv) => {
    // --merge-adapter alone only writes the merged checkpoint
    if (argv['merge-adapter'] && argv.text === undefined && argv.chat === undefined && argv.ids === undefined)
      return mergeAdapterFlag(argv.model, argv.adapter, argv['merge-adapter']);
    const source = requireOne(argv, ['text', 'chat', 'ids']);
    outFileFlag('out', argv.out);
    const interventions = parseInterventionFlags(argv.steer, argv.clamp);
    if (!argv.sae && (interventions.length || argv.codes !== undefined))
      throw new InputError('--steer, --clamp and --codes need --sae');
    const backend = await openBackend(backendSpec(argv));
    mergeAdapterFlag(argv.model, argv.adapter, argv['merge-adapter']);
    const model = await loadModel(argv.model, backend, { adapter: argv.adapter, ...weightChoice(argv) });
    const sae = argv.sae ? loadSaeFor(argv.sae, backend) : null;
    let codesAt: HookPoint | null = null;
    if (sae && argv.codes !== undefined) {
      codesAt =
        argv.codes === ''
          ? featureHook(sae, model.config, { setting: 'codes' })
          : resolveHook(argv.codes, model.config, '‹codes›');
      checkSaeAt(sae, codesAt, model.config);
    }
    const hooks = sae ? interventionHooks(sae, interventions, model.config) : undefined;
    if (sae) for (const note of offHookNotes(interventions, sae)) console.error(note);
    let ids: number[];
    if (source === 'ids') ids = parseIds(argv.ids!, '--ids', model.config.vocabSize);
    else {
      const tokenizer = loadTokenizer(argv.model);
      ids =
        source === 'text'
          ? tokenizer.encode(argv.text!).ids
          : applyChatTemplate(tokenizer, readChatFile(argv.chat!), {
              addGenerationPrompt: argv['add-generation-prompt'],
            });
    }
    const layers = Array.from({ length: model.config.numLayers }, (_, l) => l);
    const residNames = layers.map((layer) => hookName({ kind: 'resid_post', layer }));
    const codesName = codesAt ? hookName(codesAt) : null;
    const cache = model.newCache(1, ids.length);
    const out = await model.forward([ids], cache, {
      read: codesName ? [...residNames, codesName] : residNames,
      hooks,
    });
    const T = ids.length;
    const tensors: Record<string, F32Tensor> = {
      logits: { shape: [T, model.config.vocabSize], data: (await out.logits!.data()) as Float32Array },
    };
    const f32 = async (name: string): Promise<F32Tensor> => {
      const t = out.acts.get(name)!;
      return { shape: t.shape, data: (await t.data()) as Float32Array };
    };
    for (const l of layers) tensors[`resid_post.${l}`] = await f32(residNames[l]);
    if (sae && codesAt && codesName) {
      // resid_post.L keeps its short name codes.L; any other hook point is written under its full name, with its activation
      const short = codesAt.kind === 'resid_post';
      if (!short) tensors[codesName] = await f32(codesName);
      tensors[short ? `codes.${codesAt.layer}` : `codes.${codesName}`] = {
        shape: [T, sae.dSae],
        data: denseCodes(await encodeSparse(sae, out.acts.get(codesName)!)),
      };
    }
    out.logits!.dispose();
    out.acts.forEach((t) => t.dispose());
    writeSafetensors(argv.out, tensors, { input_ids: ids.join(','), interventions: JSON.stringify(interventions) });
    cache.dispose();
    backend.close();
    console.log(
      `wrote ${argv.out}: ${Object.entries(tensors)
        .map(([k, t]) => `${k} [${t.shape}]`)
        .join(', ')}`,
    );
  },
};

export default command;
