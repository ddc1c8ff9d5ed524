// Sampling settings, declared once; each stage that generates takes them with its own defaults
// (generate: greedy; find-otd-latents: 64 tokens at 0.6; ablate: the paper's 512 tokens at 0.6, penalty 1.1).
import { int, num } from './kinds.ts';
import type { Values } from './table.ts';

/** The sampling settings with a stage's defaults, recorded in config.json under `prefix` (null: not recorded). */
export function samplingSettings(
  d: { maxTokens: number; temperature: number; topK?: number; topP?: number; repetitionPenalty?: number },
  prefix: string | null,
) {
  const key = (k: string) => (prefix === null ? null : `${prefix}.${k}`);
  return {
    maxTokens: int({
      doc: 'most new tokens per response; generation stops at EOS',
      min: 1,
      default: d.maxTokens,
      key: key('maxNewTokens'),
    }),
    temperature: num({
      doc: 'sampling temperature (0 = greedy)',
      min: 0,
      default: d.temperature,
      key: key('temperature'),
    }),
    topK: int({ doc: 'keep the k most likely tokens (0 = off)', min: 0, default: d.topK ?? 0, key: key('topK') }),
    topP: num({
      doc: 'nucleus sampling mass (1 = off)',
      min: 0,
      max: 1,
      open: 'min',
      default: d.topP ?? 1,
      key: key('topP'),
    }),
    repetitionPenalty: num({
      doc: 'transformers repetition penalty (1 = off)',
      min: 0,
      open: 'min',
      default: d.repetitionPenalty ?? 1,
      key: key('repetitionPenalty'),
    }),
  };
}

export type SamplingValues = Values<ReturnType<typeof samplingSettings>>;

/** The generation options of sampling settings (the model's names, in config.json's order). */
export function samplingOf(v: SamplingValues) {
  return {
    maxNewTokens: v.maxTokens,
    temperature: v.temperature,
    topK: v.topK,
    topP: v.topP,
    repetitionPenalty: v.repetitionPenalty,
  };
}

/** The seed setting: every random choice of a stage takes it. */
export const seedSetting = (doc: string, d = 0) => int({ doc, default: d, key: 'seed' });
