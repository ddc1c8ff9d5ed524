import { activeBackend } from '../backend.ts';
import { InputError } from '../errors.ts';
import { deviceCanHold, webgpuDevice } from '../webgpu.ts';
import { loadModelConfig, type ModelConfig } from './config.ts';
import { Transformer } from './transformer.ts';
import { loadWeights } from './weights.ts';

/** One WASM instance addresses 4 GiB; weights must leave room for activations and the KV cache. */
const WASM_WEIGHT_BUDGET = 3.2 * 2 ** 30;
/** On a GPU, room beyond the weights for activations, the KV cache and tfjs's buffer pool. */
const GPU_HEADROOM = 1.1;

/** Bytes of f32 weights the backend holds for a config (the embedding table stays in JS memory). */
export function backendWeightBytes(c: ModelConfig): number {
  const attn = c.hiddenSize * (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.numHeads * c.headDim * c.hiddenSize;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  return 4 * (c.numLayers * (attn + mlp) + c.vocabSize * c.hiddenSize);
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

/** Refuses, before reading any weight, a model the active backend cannot hold. */
async function checkFits(dir: string, config: ModelConfig): Promise<void> {
  const bytes = backendWeightBytes(config);
  if (activeBackend()?.startsWith('wasm') && bytes > WASM_WEIGHT_BUDGET) {
    throw new InputError(
      `${dir}: the model needs ${gib(bytes)} GiB of f32 weights, more than one WASM instance holds ` +
        `(4 GiB heap). Run it on a GPU with --backend webgpu, or install @tensorflow/tfjs-node (CPU) and run with --backend node.`,
    );
  }
  const gpu = webgpuDevice();
  if (gpu && !(await deviceCanHold(bytes * GPU_HEADROOM))) {
    throw new InputError(
      `${dir}: the model needs ${gib(bytes)} GiB of f32 weights (${gib(bytes * GPU_HEADROOM)} GiB with working memory), ` +
        `more than the WebGPU device (${gpu.description}) can allocate now. See docs/model.md for which models fit which GPUs.`,
    );
  }
}

/** Loads a Hugging Face checkpoint directory (config, safetensors) into a ready Transformer. */
export async function loadModel(dir: string): Promise<Transformer> {
  const config = loadModelConfig(dir);
  await checkFits(dir, config);
  return new Transformer(config, loadWeights(dir, config));
}
