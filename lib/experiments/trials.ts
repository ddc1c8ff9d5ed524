// Step 4 of an ablation: the planned trials not yet in the store generated and judged, each appended to
// trials.jsonl as it is judged (a killed run resumes without redoing or duplicating one).
import { existsSync } from 'node:fs';
import { progress } from '../progress.ts';
import { isDegraded } from '../trials/degraded.ts';
import { appendTrial, readTrials, repairTornTail } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import type { Calibration } from './calibrate.ts';
import type { PlannedTrial } from './plan.ts';
import { generateAndJudge, type JudgedRow, type SteeredGenerator } from './steered.ts';

export interface TrialsRun {
  /** The store's trials of this plan (earlier runs' and this one's). */
  trials: Trial[];
  alreadyDone: number;
  generated: number;
}

/** What every trial of a run records besides its own draw. */
export interface TrialRecord {
  /** The run's provenance (ablationProvenance(...).trial(run)). */
  base: Record<string, unknown>;
  /** Each feature's calibration (its threshold goes into the trial). */
  calibrations: Map<number, Calibration>;
  log: (line: string) => void;
}

/**
 * A planned trial as stored: its response with the per-trial records (tokens, finish reason, the paper's
 * degraded filter, the well-formed share when the judge knows the language), judgment and provenance.
 */
export function toTrial(
  p: PlannedTrial,
  r: JudgedRow,
  wellFormed: ((response: string) => number) | undefined,
  base: Record<string, unknown>,
  calibration: Calibration | undefined,
): Trial {
  return {
    id: p.id,
    feature: p.feature,
    feature_label: p.featureLabel,
    prompt: p.prompt,
    seed: p.seed,
    condition: p.condition,
    boost: p.boost,
    interventions: p.interventions,
    response: r.response,
    generated_tokens: r.generatedTokens,
    finish_reason: r.finishReason,
    well_formed_share: wellFormed ? wellFormed(r.response) : null,
    degraded: isDegraded(r.response),
    judge: r.judge,
    error: null,
    provenance: {
      ...base,
      seed: p.seed,
      prompt_index: p.promptIndex,
      meta_prompt: p.instruction,
      boost_level: p.level,
      random_set: p.randomSet,
      threshold: calibration?.threshold ?? null,
    },
  };
}

/** Runs the plan's pending trials into `store`; `describe` says what was planned (for the log line). */
export async function runTrials(
  gen: SteeredGenerator,
  plan: PlannedTrial[],
  store: string,
  { base, calibrations, log }: TrialRecord,
  describe: string,
): Promise<TrialsRun> {
  repairTornTail(store);
  const done = new Set(existsSync(store) ? readTrials(store).map((t) => t.id) : []);
  const pending = plan.filter((p) => !done.has(p.id));
  log(`${plan.length} trials planned (${describe}); ${plan.length - pending.length} already in ${store}`);
  const bar = progress('trials', pending.length);
  const wellFormed = gen.judge.wellFormedShare?.bind(gen.judge);
  await generateAndJudge(gen, pending, (i, r) => {
    const p = pending[i];
    appendTrial(store, toTrial(p, r, wellFormed, base, calibrations.get(p.feature)));
    bar.tick();
  });
  bar.done();
  const ids = new Set(plan.map((p) => p.id));
  const trials = readTrials(store).filter((t) => ids.has(t.id));
  return { trials, alreadyDone: plan.length - pending.length, generated: pending.length };
}
