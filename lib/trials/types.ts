// The trial store's record (docs/design.md "Trial store"): one judged, steered response per line.
import type { Intervention } from '../steering/types.ts';

export interface JudgedAttempt {
  text: string;
  /** 0–100; null when the judge gave no usable score for this attempt. */
  score: number | null;
}

export interface JudgeResult {
  /** Judge id, e.g. `anthropic:claude-…`, `openai:gpt-…`, `heuristic`. */
  id: string;
  /** The model id the judge's API returned (a remote judge; may name a dated snapshot of the model asked for). */
  model?: string | null;
  /** Empty when the judge found no attempt in the response (then the trial is excluded as `no_attempts`). */
  attempts: JudgedAttempt[];
  raw: string | null;
  error: string | null;
}

export interface Trial {
  id: string;
  feature: number;
  feature_label: string | null;
  prompt: string;
  seed: number;
  condition: string;
  boost: number | null;
  interventions: Intervention[];
  response: string;
  /** Tokens generated (the stop token included when produced); absent in stores written before it was recorded. */
  generated_tokens?: number;
  /** `eos`: a stop token ended the response; `length`: it ran to the token limit. */
  finish_reason?: 'eos' | 'length';
  /** Share of the response's sentences that are well formed, when the judge knows the language (the organism judge); else null. */
  well_formed_share?: number | null;
  /** The paper's degraded-output filter (lib/trials/degraded.ts) on the response. */
  degraded?: boolean;
  judge: JudgeResult | null;
  error: string | null;
  provenance: TrialProvenance;
}

/** How a trial was made (run id, inputs, settings, its draw); the fields read back are typed. */
export interface TrialProvenance {
  /** Offset of the trial's strength from its feature's threshold in threshold spreads (a sweep); null or absent otherwise. */
  boost_level?: number | null;
  [field: string]: unknown;
}
