import type { Backend } from '../backend.ts';
import { InputError } from '../errors.ts';
import { loadAdapter } from './adapter.ts';
import { loadModelConfig, type ModelConfig } from './config.ts';
import { TfjsKernels } from './tfjs/kernels.ts';
import { type Model, Transformer } from './transformer.ts';
import { loadWeights } from './weights.ts';

/** Bytes of f32 weights the backend holds for a config (the embedding table stays in JS memory). */
export function backendWeightBytes(c: ModelConfig): number {
  const attn = c.hiddenSize * (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.numHeads * c.headDim * c.hiddenSize;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  return 4 * (c.numLayers * (attn + mlp) + c.vocabSize * c.hiddenSize);
}

export interface LoadOptions {
  /** A PEFT LoRA adapter directory, applied to the weights as they load (lib/model/adapter.ts). */
  adapter?: string | null;
}

/** Loads a Hugging Face checkpoint directory (config, safetensors) onto a backend; refuses, before reading any weight, a model the backend cannot hold (or an adapter that does not fit it). */
export async function loadModel(dir: string, backend: Backend, o: LoadOptions = {}): Promise<Model> {
  const config = loadModelConfig(dir);
  const adapter = o.adapter ? loadAdapter(o.adapter, config) : null;
  const why = await backend.cannotHold(backendWeightBytes(config));
  if (why) throw new InputError(`${dir}: ${why}`);
  return new Transformer(config, new TfjsKernels(config, loadWeights(dir, config, backend, adapter), 'f32'));
}
