// Flags shared by the commands that open a model and an SAE, with the shipped defaults.
import type { Argv } from 'yargs';
import { BACKEND_CHOICES, type BackendChoice, type BackendSpec } from '../backend.ts';
import { DTYPE_CHOICES, type DtypeChoice, QUANTIZE_CHOICES, type WeightChoice } from '../model/load.ts';
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
