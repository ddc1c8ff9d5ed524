import { activeBackend } from '../backend.ts';
import { InputError } from '../errors.ts';
import { loadModelConfig, type ModelConfig } from './config.ts';
import { Transformer } from './transformer.ts';
import { loadWeights } from './weights.ts';

/** One WASM instance addresses 4 GiB; weights must leave room for activations and the KV cache. */
const WASM_WEIGHT_BUDGET = 3.2 * 2 ** 30;

/** Bytes of f32 weights the backend holds for a config (the embedding table stays in JS memory). */
export function backendWeightBytes(c: ModelConfig): number {
  const attn = c.hiddenSize * (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.numHeads * c.headDim * c.hiddenSize;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  return 4 * (c.numLayers * (attn + mlp) + c.vocabSize * c.hiddenSize);
}

/** Loads a Hugging Face checkpoint directory (config, safetensors) into a ready Transformer. */
export function loadModel(dir: string): Transformer {
  const config = loadModelConfig(dir);
  const bytes = backendWeightBytes(config);
  if (activeBackend()?.startsWith('wasm') && bytes > WASM_WEIGHT_BUDGET) {
    throw new InputError(
      `${dir}: the model needs ${(bytes / 2 ** 30).toFixed(1)} GiB of f32 weights, more than one WASM instance holds ` +
      `(4 GiB heap). Install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu and run with --backend node or node-gpu.`,
    );
  }
  return new Transformer(config, loadWeights(dir, config));
}
