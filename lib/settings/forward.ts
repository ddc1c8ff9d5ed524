// The settings of `analyze forward` (one forward pass into a safetensors file), declared once: the input
// (raw text, a chat file or token ids), the output file and where SAE codes are read.
import { bool, custom, text } from './kinds.ts';

export const FORWARD_SETTINGS = {
  text: text({
    doc: 'raw text, tokenized with the model tokenizer (special tokens added as transformers does)',
    key: null,
  }),
  chat: text({
    doc: 'JSON file [{"role","content"}...], rendered with the chat template',
    expected: 'a JSON file',
    key: null,
  }),
  ids: text({ doc: 'comma-separated token ids', expected: 'comma-separated token ids', key: null }),
  addGenerationPrompt: bool({
    doc: 'with ‹chat›: append the assistant header',
    default: false,
    key: null,
  }),
  out: text({ doc: 'output .safetensors file', expected: 'a file path', key: null }),
  codes: custom<string | undefined, string>({
    doc: "also write SAE codes [T, d_sae] (after interventions) at a hook point: a hook name or a layer number L (= resid_post.L, written as codes.L); no value: the SAE's own hook point",
    default: undefined,
    key: null,
    cli: { type: 'string' },
    expected: 'a hook name, a layer number, or nothing (the SAE’s own hook point)',
    valid: (v) => typeof v === 'string',
  }),
};
