// The settings of `analyze generate` (one reply or continuation), declared once: what to continue, the
// sampling settings with generate's defaults (128 tokens, greedy), the seed and the output form.
import { bool, text, withDefault } from './kinds.ts';
import { samplingSettings, seedSetting } from './sampling.ts';

export const GENERATE_SETTINGS = {
  prompt: text({ doc: 'user message, rendered with the chat template and a generation prompt', key: null }),
  system: text({ doc: 'system message (with ‹prompt›)', key: null, requires: { given: ['prompt'] } }),
  ids: text({
    doc: 'comma-separated token ids to continue, no template',
    expected: 'comma-separated token ids',
    key: null,
  }),
  ...samplingSettings({ maxTokens: 128, temperature: 0 }, null),
  seed: withDefault(seedSetting('sampling seed'), { key: null }),
  json: bool({
    doc: 'print {"text", "tokens", "timings", "memory"} (memory: the device bytes of the weights and the peak)',
    default: false,
    key: null,
  }),
};

/** The SAE a model command steers, clamps or reads with; none by default (generate and forward need none). */
export const optionalSae = (doc: string) => text({ doc, expected: 'a path', key: null });
