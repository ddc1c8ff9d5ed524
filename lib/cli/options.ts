// Flags shared by the commands that open a model and an SAE, with the shipped defaults.
import type { Argv } from 'yargs';
import { BACKEND_CHOICES, type BackendChoice, type BackendSpec } from '../backend.ts';
import { DTYPE_CHOICES, type DtypeChoice, QUANTIZE_CHOICES, type WeightChoice } from '../model/load.ts';
import { SHIPPED } from '../settings/shipped.ts';
import { WEBGPU_ADAPTER_CHOICES, type WebgpuAdapterChoice } from '../webgpu.ts';

/** The flags every command gets from the top-level parser (analyses/cli.ts). */
export interface GlobalArgs {
  backend: BackendChoice;
  'webgpu-adapter': WebgpuAdapterChoice;
}

/** The backend the global flags ask for (a session opens it and hands it to its worker threads). */
export function backendSpec(argv: GlobalArgs): BackendSpec {
  return { choice: argv.backend, adapter: argv['webgpu-adapter'] };
}

/** The global --backend and --webgpu-adapter flags (analyses/cli.ts puts them on the top-level parser). */
export function backendOption<T>(y: Argv<T>) {
  return y
    .option('backend', {
      choices: BACKEND_CHOICES,
      default: 'auto' as BackendChoice,
      describe:
        'numeric backend: native TensorFlow GPU (node-gpu) when installed, else WebGPU on a hardware GPU, else node (when installed), else wasm, else cpu',
      global: true,
    })
    .option('webgpu-adapter', {
      choices: WEBGPU_ADAPTER_CHOICES,
      default: 'auto' as WebgpuAdapterChoice,
      describe:
        'Dawn backend for --backend webgpu: vulkan (NVIDIA, AMD), metal (macOS), opengl (Mesa, software); auto: vulkan, then opengl',
      global: true,
    });
}

/** The parsed values of adapterOptions. */
export interface AdapterArgs {
  adapter?: string;
  'merge-adapter'?: string;
}

/** --adapter (a PEFT LoRA adapter applied as the model loads) and --merge-adapter (write the merged checkpoint). */
export function adapterOptions<T>(y: Argv<T>) {
  return y
    .option('adapter', {
      type: 'string',
      describe:
        'PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors), applied to the weights as W + (alpha/r)·B·A',
    })
    .option('merge-adapter', {
      type: 'string',
      describe:
        'with --adapter: also write the model with the adapter merged, as a Hugging Face checkpoint, to this directory',
    });
}

/** The parsed values of weightOptions. */
export interface WeightArgs {
  dtype: DtypeChoice;
  quantize: (typeof QUANTIZE_CHOICES)[number];
}

/** --dtype and --quantize: how the model's weights are held on the backend. */
export function weightOptions<T>(y: Argv<T>) {
  return y
    .option('dtype', {
      choices: DTYPE_CHOICES,
      default: 'auto' as DtypeChoice,
      describe:
        "dtype the model's weights are held in (auto: the checkpoint's on a GPU, f32 on the CPU backends, which compute in f32 either way)",
    })
    .option('quantize', {
      choices: QUANTIZE_CHOICES,
      default: 'none' as WeightArgs['quantize'],
      describe: "fp8: quantize the decoder's linear weights on load, per output channel (E4M3, weight-only)",
    });
}

/** The load options of --dtype and --quantize. */
export function weightChoice(a: WeightArgs): WeightChoice {
  return { dtype: a.dtype, quantize: a.quantize === 'fp8' ? 'fp8' : null };
}

/** The parsed values of sessionOptions (and the global --backend). */
export interface SessionArgs extends GlobalArgs, AdapterArgs, WeightArgs {
  model: string;
  sae: string;
  layer?: string;
  'batch-size': number;
  workers: number;
  'force-workers': boolean;
}

/** --model, --adapter, --merge-adapter, --dtype, --quantize, --sae, --layer (the feature hook point), --batch-size and --workers. */
export function sessionOptions<T>(y: Argv<T>, batchDescribe = 'sequences per forward pass') {
  return weightOptions(adapterOptions(y))
    .option('model', {
      type: 'string',
      default: SHIPPED.model,
      defaultDescription: 'data/model',
      describe: 'Hugging Face checkpoint directory',
    })
    .option('sae', {
      type: 'string',
      default: SHIPPED.sae,
      defaultDescription: 'data/sae',
      describe: 'SAE: SAELens dir, Gemma Scope params.npz, Goodfire .pth/.pt, or safetensors',
    })
    .option('layer', {
      type: 'string',
      describe:
        "feature hook point: a hook name (blocks.L.hook_resid_pre, blocks.L.hook_mlp_out, …) or a layer number L (= resid_post.L); default: the SAE's own hook point",
    })
    .option('batch-size', { type: 'number', default: 8, describe: batchDescribe })
    .option('workers', {
      type: 'number',
      default: 0,
      describe: 'worker threads, each with its own model copy (0 = this thread; at most the cores available)',
    })
    .option('force-workers', { type: 'boolean', default: false, describe: 'allow more --workers than cores' });
}

/** --steer and --clamp (HOOK:LATENT:VALUE, repeatable), on every position, with the SAE error term kept. */
export function interventionOptions<T>(y: Argv<T>) {
  return y
    .option('steer', {
      type: 'string',
      array: true,
      describe:
        'HOOK:LATENT:VALUE, add VALUE·W_dec[LATENT] at HOOK on every position (repeatable); HOOK is a hook name (blocks.3.hook_resid_pre) or a layer number L (= resid_post.L)',
    })
    .option('clamp', {
      type: 'string',
      array: true,
      describe: 'HOOK:LATENT:VALUE, clamp the latent to VALUE at HOOK (repeatable; 0 = ablate; HOOK as for --steer)',
    });
}

/** --prompts with the shipped prompt set as default. */
export function promptsOption<T>(y: Argv<T>) {
  return y.option('prompts', {
    type: 'string',
    default: SHIPPED.prompts,
    defaultDescription: 'data/prompts.txt',
    describe: 'one prompt per line',
  });
}
