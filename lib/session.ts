// What most commands open: model config and tokenizer, the SAE, the feature layer, and an executor that
// runs the model (in this thread, or on worker threads that each load their own copy). The shipped
// default model, SAE and prompts are what a session opens when given no paths.
import { availableParallelism } from 'node:os';
import { type Backend, type BackendChoice, type BackendSpec, openBackend } from './backend.ts';
import { InputError, SettingError, settingRef as ref } from './errors.ts';
import { loadModelConfig, type ModelConfig } from './model/config.ts';
import { loadModel, type WeightChoice } from './model/load.ts';
import { mergeAdapter } from './model/mergeAdapter.ts';
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
  /** The feature (read-out) layer. */
  layer: number;
  executor: Executor;
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
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
  layer?: number;
  /** An open backend, or what to open (default auto). */
  backend?: Backend | BackendSpec | BackendChoice;
  /** 0 (the default) runs the model in this thread; N > 0 starts N worker threads (at most the cores available unless forceWorkers). */
  workers?: number;
  forceWorkers?: boolean;
}

/** The layer an SAE was trained on, from its hook name (`blocks.L.hook_resid_post`), when it says. */
function saeHookLayer(sae: Sae): number | null {
  const m = /^blocks\.(\d+)\./.exec(sae.info.hookName ?? '');
  return m ? Number(m[1]) : null;
}

/** A layer index the model has; `what` names the value (`‹layer› 7`, or where a value not given came from). */
export function checkLayer(layer: number, config: ModelConfig, what = `${ref('layer')} ${layer}`): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= config.numLayers) {
    throw new SettingError(`${what}: the model has layers 0..${config.numLayers - 1}`);
  }
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

/** Loads an SAE for a backend and checks it reads the model's residual stream. */
export function loadSaeFor(path: string, config: ModelConfig, backend: Backend): Sae {
  const sae = loadSae(path, saeComputeOptions(backend));
  if (sae.dIn !== config.hiddenSize) {
    throw new InputError(`${path}: the SAE's d_in is ${sae.dIn} but the model's hidden size is ${config.hiddenSize}`);
  }
  return sae;
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
  const sae = loadSaeFor(paths.sae, config, backend);
  const layer = o.layer ?? saeHookLayer(sae);
  if (layer === null)
    throw new SettingError(`${paths.sae}: the SAE names no layer (no hook_name); give ${ref('layer')}`);
  checkLayer(
    layer,
    config,
    o.layer === undefined
      ? `${paths.sae}: the SAE's hook ${sae.info.hookName} (layer ${layer}; is the SAE for this model? ${ref('layer')} reads another layer)`
      : undefined,
  );
  mergeAdapterFlag(paths.model, paths.adapter, o.mergeAdapter, o.log);
  const executor =
    workers === 0
      ? localExecutor({ model: await loadModel(paths.model, backend, { adapter: paths.adapter, ...o.weights }), sae })
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
  return { backend, paths, config, tokenizer, sae, layer, executor, close };
}

function isBackend(b: SessionOptions['backend']): b is Backend {
  return typeof b === 'object' && 'kind' in b;
}
