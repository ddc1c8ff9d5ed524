// The global flags (--backend, --webgpu-adapter) and the load options of the weight settings.
import type { Argv } from 'yargs';
import { BACKEND_CHOICES, type BackendChoice, type BackendSpec } from '../backend.ts';
import type { DtypeChoice, QUANTIZE_CHOICES, WeightChoice } from '../model/load.ts';
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

/** The load options of --dtype and --quantize. */
export function weightChoice(a: { dtype: DtypeChoice; quantize: (typeof QUANTIZE_CHOICES)[number] }): WeightChoice {
  return { dtype: a.dtype, quantize: a.quantize === 'fp8' ? 'fp8' : null };
}
