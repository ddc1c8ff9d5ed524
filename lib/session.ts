// What most commands open: model config and tokenizer, the SAE, its hook point, and an executor that
// runs the model (in this thread, or on worker threads that each load their own copy). The shipped
// default model, SAE and prompts are what a session opens when given no paths.
import { availableParallelism } from 'node:os';
import { type Backend, type BackendChoice, type BackendSpec, openBackend } from './backend.ts';
import { flagOf, InputError, SettingError, settingRef as ref } from './errors.ts';
import { loadModelConfig, type ModelConfig } from './model/config.ts';
import { checkHook, HOOK_FORMS, type HookPoint, hookName, hookWidth, resolveHook, sameHook } from './model/hooks.ts';
import { saeHook } from './steering/interventions.ts';
import { loadModel, type WeightChoice } from './model/load.ts';
import { mergeAdapter } from './model/mergeAdapter.ts';
import { defaultGpuBatch, gpuBudget } from './model/memory.ts';
import { loadTokenizer, type Tokenizer } from './model/tokenizer.ts';
import { type Executor, localExecutor, workerPool } from './parallel/pool.ts';
import { loadSae, type Sae, saeComputeOptions } from './sae/index.ts';
import { SHIPPED } from './settings/shipped.ts';

export interface Session {
  /** The numeric backend the model runs on (worker threads open the same kind). */
  backend: Backend;
  /** The checkpoint directory, LoRA adapter and SAE path it was opened from (recorded in every output's provenance). */
  paths: { model: string; sae: string; adapter: string | null };
  config: ModelConfig;
  tokenizer: Tokenizer;
  sae: Sae;
  /** The feature (read-out) hook point: where the SAE is read and, unless told otherwise, steered and clamped. */
  hook: HookPoint;
  executor: Executor;
  /**
   * On a hardware WebGPU adapter (or any, given gpuMemory): the default batch for a generation of this shape,
   * sized from the device memory budget (lib/model/memory.ts), with why. Absent on the CPU backends.
   */
  batchFor?: (shape: { promptTokens: number; newTokens: number }) => { batch: number; why: string };
  /** Stops the workers and frees the backend. */
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Default: the shipped model. */
  model?: string;
  /** Default: the shipped SAE. */
  sae?: string;
  /** A PEFT LoRA adapter directory applied to the model's weights as they load (lib/model/adapter.ts). */
  adapter?: string | null;
  /** Also write the model with the adapter merged into this directory (a Hugging Face checkpoint) first. */
  mergeAdapter?: string | null;
  /** How the weights are held (--dtype, --quantize); default: the backend's default dtype. */
  weights?: WeightChoice;
  /** Where progress lines and notes (a --layer that differs from the SAE's own hook point) go (default: stderr). */
  log?: (line: string) => void;
  /** The feature hook point: a hook name, or a layer number (= resid_post.L). Default: the SAE's own hook point. */
  layer?: string | number;
  /** An open backend, or what to open (default auto). */
  backend?: Backend | BackendSpec | BackendChoice;
  /** 0 (the default) runs the model in this thread; N > 0 starts N worker threads (at most the cores available unless forceWorkers). */
  workers?: number;
  forceWorkers?: boolean;
  /** GB of device memory a GPU run may use, weights included (default: the NVIDIA driver's free memory, when readable). */
  gpuMemory?: number | null;
}

/**
 * The feature hook point: `override` (the value of the setting `setting`, default ‹layer›: a hook name or a
 * layer number = resid_post.L) when given, else the SAE's own. An SAE that names no hook point, or one this
 * toolkit does not run, needs the override.
 */
export function featureHook(
  sae: Sae,
  config: ModelConfig,
  o: { override?: string | number; setting?: string; log?: (line: string) => void } = {},
): HookPoint {
  const name = o.setting ?? 'layer';
  const said = sae.info.hookName;
  const own = saeHook(sae);
  if (o.override !== undefined) {
    const hook = resolveHook(String(o.override), config, ref(name));
    if (own && !sameHook(own, hook))
      (o.log ?? console.error)(
        `note: ${flagOf(name)} ${o.override} reads ${hookName(hook)}, but the SAE was trained at ${hookName(own)} (${said})`,
      );
    return hook;
  }
  if (said === undefined)
    throw new SettingError(
      `${sae.info.path}: the SAE names no hook point (no hook_name in a SAELens cfg.json, no Gemma Scope or Goodfire folder or file name; docs/sae.md); give ${ref(name)} HOOK, e.g. ${ref(name)} blocks.12.hook_resid_post or ${ref(name)} 12`,
    );
  if (!own)
    throw new SettingError(
      `${sae.info.path}: the SAE's hook point "${said}" is not one this toolkit runs (${HOOK_FORMS}); give ${ref(name)} HOOK to read it at another`,
    );
  return checkHook(
    own,
    config,
    `${sae.info.path}: the SAE's hook point ${said} (is the SAE for this model? ${ref(name)} reads elsewhere)`,
  );
}

/** Checks the SAE reads activations of the width found at `hook`. */
export function checkSaeAt(sae: Sae, hook: HookPoint, config: ModelConfig): void {
  const width = hookWidth(hook, config);
  if (sae.dIn !== width)
    throw new InputError(
      `${sae.info.path}: the SAE's d_in is ${sae.dIn}, but ${hookName(hook)} of this model is ${width} wide (hidden size ${config.hiddenSize}${hook.kind === 'attn_z' ? '' : `; attn.hook_z is ${config.numHeads * config.headDim}`})`,
    );
}

/** At most one worker per available core (each holds its own model copy) unless `force`. */
export function checkWorkers(workers: number, force = false): void {
  if (!Number.isInteger(workers) || workers < 0)
    throw new SettingError(`${ref('workers')}: expected an integer ≥ 0, found ${workers}`);
  const cores = availableParallelism();
  if (workers > cores && !force) {
    throw new SettingError(
      `${ref('workers')} ${workers}: this machine has ${cores} cores; each worker holds its own model copy, so more workers than cores only cost memory and time (give ${ref('forceWorkers')} to insist)`,
    );
  }
}

/** Loads an SAE for a backend (its width is checked where it is used: checkSaeAt, checkInterventions). */
export function loadSaeFor(path: string, backend: Backend): Sae {
  return loadSae(path, saeComputeOptions(backend));
}

/** Writes the merged checkpoint that --merge-adapter asks for (it needs --adapter). */
export function mergeAdapterFlag(
  model: string,
  adapter: string | null | undefined,
  out: string | null | undefined,
  log: (line: string) => void = (l) => console.error(l),
): void {
  if (!out) return;
  if (!adapter) throw new SettingError(`${ref('mergeAdapter')} needs ${ref('adapter')} (the adapter to merge)`);
  const merged = mergeAdapter(model, adapter, out);
  log(
    `merged ${adapter} into ${model}: ${merged.changed.length} tensors changed, wrote ${out} (${merged.files.join(', ')})`,
  );
}

export async function openSession(o: SessionOptions = {}): Promise<Session> {
  const paths = { model: o.model ?? SHIPPED.model, sae: o.sae ?? SHIPPED.sae, adapter: o.adapter ?? null };
  const workers = o.workers ?? 0;
  checkWorkers(workers, o.forceWorkers);
  const config = loadModelConfig(paths.model);
  const tokenizer = loadTokenizer(paths.model);
  const backend = isBackend(o.backend) ? o.backend : await openBackend(o.backend ?? 'auto');
  const sae = loadSaeFor(paths.sae, backend);
  const hook = featureHook(sae, config, { override: o.layer, log: o.log });
  checkSaeAt(sae, hook, config);
  mergeAdapterFlag(paths.model, paths.adapter, o.mergeAdapter, o.log);
  const model = workers === 0 ? await loadModel(paths.model, backend, { adapter: paths.adapter, ...o.weights }) : null;
  const executor = model
    ? localExecutor({ model, sae })
    : await workerPool(
        { model: paths.model, adapter: paths.adapter, weights: o.weights, sae: paths.sae, backend: backend.spec },
        workers,
        {
          here: backend,
        },
      );
  const close = async () => {
    await executor.close();
    backend.close();
  };
  const gpuMemory = o.gpuMemory ?? null;
  const sized = model && backend.gpu && (!backend.gpu.software || gpuMemory !== null);
  const batchFor = sized
    ? (shape: { promptTokens: number; newTokens: number }) =>
        defaultGpuBatch(config, model.dtype, gpuBudget(gpuMemory, model.weightBytes), shape)
    : undefined;
  return { backend, paths, config, tokenizer, sae, hook, executor, batchFor, close };
}

function isBackend(b: SessionOptions['backend']): b is Backend {
  return typeof b === 'object' && 'kind' in b;
}
