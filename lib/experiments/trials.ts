// Step 4 of an ablation: the planned trials not yet in the store generated and judged, each appended to
// trials.jsonl as it is judged (a killed run resumes without redoing or duplicating one); stored trials
// whose judging failed (an outage) judged again, their responses kept.
import { existsSync } from 'node:fs';
import { progress } from '../progress.ts';
import { recordedIntervention } from '../steering/interventions.ts';
import { isDegraded } from '../trials/degraded.ts';
import { rejudgeFailed } from '../judge/regrade.ts';
import { appendTrial, judgeFailed, readTrials, repairTornTail } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import type { Calibration } from './calibrate.ts';
import type { PlannedTrial } from './plan.ts';
import { generateAndJudge, type JudgedRow, type SteeredGenerator } from './steered.ts';

export interface TrialsRun {
  /** The store's trials of this plan (earlier runs' and this one's), in plan order. */
  trials: Trial[];
  alreadyDone: number;
  generated: number;
}

/** What every trial of a run records besides its own draw. */
export interface TrialRecord {
  /** The run's key: every stored line must carry it as provenance.run (lines copied from another run are refused). */
  run: string;
  /** The run's provenance (ablationProvenance(...).trial(run)). */
  base: Record<string, unknown>;
  /** Judge again the stored trials whose judging failed (their responses kept). */
  rejudgeFailed: boolean;
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
    interventions: p.interventions.map(recordedIntervention),
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
  { run, base, calibrations, rejudgeFailed: again, log }: TrialRecord,
  describe: string,
): Promise<TrialsRun> {
  repairTornTail(store);
  const ids = new Set(plan.map((p) => p.id));
  const stored = existsSync(store) ? readTrials(store, { run }).filter((t) => ids.has(t.id)) : [];
  const done = new Set(stored.map((t) => t.id));
  const pending = plan.filter((p) => !done.has(p.id));
  log(`${plan.length} trials planned (${describe}); ${plan.length - pending.length} already in ${store}`);
  const failed = again ? stored.filter(judgeFailed) : [];
  if (failed.length) {
    log(
      `${failed.length} stored trials whose judging failed are judged again (their responses kept; --no-rejudge-failed keeps the failures)`,
    );
    const fixed = await rejudgeFailed(gen.judge, store, failed);
    log(
      `  ${fixed} of them judged now; ${failed.length - fixed} failed again (kept as failures, judged again on the next rerun)`,
    );
  }
  const bar = progress('trials', pending.length);
  const wellFormed = gen.judge.wellFormedShare?.bind(gen.judge);
  await generateAndJudge(gen, pending, (i, r) => {
    const p = pending[i];
    appendTrial(store, toTrial(p, r, wellFormed, base, calibrations.get(p.feature)));
    bar.tick();
  });
  bar.done();
  // in plan order, not the order they finished in (batches, resumed runs): the metrics' bootstrap depends on it
  const byId = new Map(readTrials(store, { run }).map((t) => [t.id, t]));
  const trials = plan.flatMap((p) => byId.get(p.id) ?? []);
  return { trials, alreadyDone: plan.length - pending.length, generated: pending.length };
}
