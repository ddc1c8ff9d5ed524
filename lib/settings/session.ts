// The settings of what a command opens: the model (and its adapter and weights), the SAE, its hook point and
// the worker threads; and the batch size every stage that runs the model shares.
import { bool, int, num, oneOf, text } from './kinds.ts';
import { SHIPPED, shownPath } from './shipped.ts';

/** What opens the model: the checkpoint, a LoRA adapter, and how the weights are held. */
export const MODEL_SETTINGS = {
  model: text({
    doc: 'Hugging Face checkpoint directory',
    expected: 'a directory',
    default: SHIPPED.model,
    key: 'inputs.model.path',
    show: shownPath,
  }),
  adapter: text({
    doc: 'PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors), applied to the weights as W + (alpha/r)·B·A',
    expected: 'a directory',
    default: null,
    auto: 'none',
    key: 'inputs.adapter',
  }),
  mergeAdapter: text({
    doc: 'also write the model with the adapter merged, as a Hugging Face checkpoint, to this directory',
    expected: 'a directory',
    key: null,
    requires: { given: ['adapter'] },
  }),
  dtype: oneOf(['auto', 'f32', 'bf16', 'f16'] as const, {
    doc: "dtype the model's weights are held in (auto: the checkpoint's on a GPU, f32 on the CPU backends, which compute in f32 either way)",
    default: 'auto',
    key: 'inputs.model.dtype',
  }),
  quantize: oneOf(['none', 'fp8'] as const, {
    doc: "fp8: quantize the decoder's linear weights on load, per output channel (E4M3, weight-only)",
    default: 'none',
    key: 'inputs.model.quantize',
  }),
};

export const SESSION_SETTINGS = {
  ...MODEL_SETTINGS,
  sae: text({
    doc: 'SAE: SAELens dir, Gemma Scope params.npz, Goodfire .pth/.pt, or safetensors',
    expected: 'a path',
    default: SHIPPED.sae,
    key: 'inputs.sae.path',
    show: shownPath,
  }),
  layer: text({
    doc: 'feature hook point: a hook name (blocks.L.hook_resid_pre, blocks.L.hook_mlp_out, …) or a layer number L (= resid_post.L)',
    expected: 'a hook name or a layer number',
    default: null,
    auto: "the SAE's own hook point",
    key: 'feature_hook',
  }),
  workers: int({
    doc: 'worker threads, each with its own model copy (0 = this thread; at most the cores available)',
    min: 0,
    default: 0,
    key: null,
  }),
  gpuMemory: num({
    doc: 'GB of GPU memory a run may use, weights included, to size the default batch (32-64 on a GPU; 8 on the CPU)',
    min: 0.001,
    default: null,
    auto: "the NVIDIA driver's free memory when readable, else batch 32",
    key: null,
  }),
  forceWorkers: bool({ doc: 'allow more workers than cores', default: false, key: null }),
};

/** Sequences per forward pass or generation batch; results do not depend on it (each row has its own seed). */
export const BATCH_SIZE = int({
  doc: 'sequences per forward pass or generation batch (results do not depend on it; ablate on a GPU sizes the default from --gpu-memory)',
  min: 1,
  max: 4096,
  default: 8,
  key: null,
});
