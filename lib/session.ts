// What most commands open: model config and tokenizer, the SAE, the feature layer, and an executor that
// runs the model (in this thread, or on worker threads that each load their own copy).
import { availableParallelism } from 'node:os';
import type { BackendChoice } from './backend.ts';
import { InputError } from './errors.ts';
import { loadModelConfig, type ModelConfig } from './model/config.ts';
import { loadModel } from './model/load.ts';
import { loadTokenizer, type Tokenizer } from './model/tokenizer.ts';
import { type Executor, localExecutor, workerPool } from './parallel/pool.ts';
import { loadSae, type Sae } from './sae/index.ts';

export interface Session {
  config: ModelConfig;
  tokenizer: Tokenizer;
  sae: Sae;
  /** The feature (read-out) layer. */
  layer: number;
  executor: Executor;
}

export interface SessionOptions {
  model: string;
  sae: string;
  layer?: number;
  backend: BackendChoice;
  /** 0 runs the model in this thread; N > 0 starts N worker threads (at most the cores available unless forceWorkers). */
  workers: number;
  forceWorkers?: boolean;
}

/** The layer an SAE was trained on, from its hook name (`blocks.L.hook_resid_post`), when it says. */
export function saeHookLayer(sae: Sae): number | null {
  const m = /^blocks\.(\d+)\./.exec(sae.info.hookName ?? '');
  return m ? Number(m[1]) : null;
}

export function checkLayer(layer: number, config: ModelConfig, flag = '--layer'): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= config.numLayers) {
    throw new InputError(`${flag} ${layer}: the model has layers 0..${config.numLayers - 1}`);
  }
}

/** At most one worker per available core (each holds its own model copy) unless `force`. */
export function checkWorkers(workers: number, force = false): void {
  if (!Number.isInteger(workers) || workers < 0) throw new InputError(`--workers must be a non-negative integer, found ${workers}`);
  const cores = availableParallelism();
  if (workers > cores && !force) {
    throw new InputError(`--workers ${workers}: this machine has ${cores} cores; each worker holds its own model copy, so more workers than cores only cost memory and time (give --force-workers to insist)`);
  }
}

/** Loads an SAE and checks it reads the model's residual stream. */
export function loadSaeFor(path: string, config: ModelConfig): Sae {
  const sae = loadSae(path);
  if (sae.dIn !== config.hiddenSize) {
    throw new InputError(`${path}: the SAE's d_in is ${sae.dIn} but the model's hidden size is ${config.hiddenSize}`);
  }
  return sae;
}

export async function openSession(o: SessionOptions): Promise<Session> {
  checkWorkers(o.workers, o.forceWorkers);
  const config = loadModelConfig(o.model);
  const tokenizer = loadTokenizer(o.model);
  const sae = loadSaeFor(o.sae, config);
  const layer = o.layer ?? saeHookLayer(sae);
  if (layer === null) throw new InputError(`${o.sae}: the SAE names no layer (no hook_name); give --layer`);
  checkLayer(layer, config);
  const executor = o.workers === 0
    ? localExecutor({ model: loadModel(o.model), sae })
    : await workerPool({ model: o.model, sae: o.sae, backend: o.backend }, o.workers);
  return { config, tokenizer, sae, layer, executor };
}
