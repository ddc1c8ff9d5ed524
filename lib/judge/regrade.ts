// Re-grades a stored trial store with another judge into a new store: append-only and resumable
// (trials already in the output, by id, are not judged again).
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { samePath } from '../io/paths.ts';
import { SettingError, settingRef as ref } from '../errors.ts';
import { lockFile } from '../runs/lock.ts';
import { appendTrial, judgeFailed, readTrials, repairTornTail } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import type { Judge } from './types.ts';

/**
 * Judges again, with `judge`, stored trials whose judging failed (their responses kept), appending each
 * new judgment to `store` as a later record of the same trial (readTrials takes the later one). A
 * judgment that fails again the same way is not appended twice. Returns how many now succeeded.
 */
export async function rejudgeFailed(judge: Judge, store: string, failed: Trial[]): Promise<number> {
  let fixed = 0;
  await Promise.all(
    failed.map(async (t) => {
      const result = await judge.judge({
        prompt: t.prompt,
        response: t.response,
        featureLabel: t.feature_label ?? null,
      });
      if (isDeepStrictEqual(result, t.judge)) return;
      if (!result.error) fixed++;
      appendTrial(store, { ...t, judge: result, provenance: { ...t.provenance, rejudged: true } });
    }),
  );
  return fixed;
}

export interface RegradeSummary {
  /** Trials in the input store. */
  input: number;
  /** Trials found already in the output (from an earlier, interrupted run) and not redone. */
  already_done: number;
  /** Of those, trials whose judging had failed, judged again now (rejudgeFailed), and how many now succeeded. */
  rejudged: number;
  rejudged_ok: number;
  /** Trials judged in this run. */
  judged: number;
  /** Of those, results with a judge error. */
  judge_errors: number;
  /** Trials copied without judging because their generation had failed (`error` set). */
  generation_errors: number;
  /** Trials in the output now, and how many of them carry a judge error. */
  output_total: number;
  output_judge_errors: number;
}

export interface RegradeOptions {
  trialsPath: string;
  outPath: string;
  judge: Judge;
  /** Called after each trial is written. */
  onProgress?: (done: number, total: number) => void;
  /** Judge again the trials of the output whose judging failed (default true). */
  rejudgeFailed?: boolean;
  /** The input's trials this run re-grades (one shard's); default all. */
  select?: (trials: Trial[]) => Trial[];
}

export async function regradeTrials(o: RegradeOptions): Promise<RegradeSummary> {
  const { trialsPath, outPath, select } = o;
  if (samePath(trialsPath, outPath)) {
    throw new SettingError(
      `${ref('out')} ${outPath}: is the same file as ${ref('trials')} ${trialsPath} (re-grading writes a new store; a link to it counts too)`,
    );
  }
  const all = readTrials(trialsPath); // ids unique: exact duplicates read once, conflicting ones refused
  const trials = select ? select(all) : all;
  const lock = lockFile(outPath, `trial store ${outPath}`);
  try {
    return await regradeLocked(trials, o);
  } finally {
    lock.release();
  }
}

async function regradeLocked(
  trials: Trial[],
  { trialsPath, outPath, judge, onProgress, rejudgeFailed: again = true }: RegradeOptions,
): Promise<RegradeSummary> {
  repairTornTail(outPath);
  const stored = existsSync(outPath) ? readTrials(outPath) : [];
  const done = new Set(stored.map((t) => t.id));
  const todo = trials.filter((t) => !done.has(t.id));
  const failed = again ? stored.filter(judgeFailed) : [];
  const summary: RegradeSummary = {
    input: trials.length,
    already_done: trials.length - todo.length,
    rejudged: failed.length,
    rejudged_ok: failed.length ? await rejudgeFailed(judge, outPath, failed) : 0,
    judged: 0,
    judge_errors: 0,
    generation_errors: 0,
    output_total: 0,
    output_judge_errors: 0,
  };
  let written = 0;
  const write = (t: Trial, judged: Trial['judge']) => {
    appendTrial(outPath, {
      ...t,
      ...(judge.wellFormedShare ? { well_formed_share: judge.wellFormedShare(t.response) } : {}),
      judge: judged,
      provenance: {
        ...t.provenance,
        judge: judge.provenance,
        regraded_from: { trials: trialsPath, previous_judge: t.judge?.id ?? null },
      },
    });
    onProgress?.(++written, todo.length);
  };
  await Promise.all(
    todo.map(async (t) => {
      if (t.error) {
        summary.generation_errors++;
        return write(t, null);
      }
      const result = await judge.judge({
        prompt: t.prompt,
        response: t.response,
        featureLabel: t.feature_label ?? null,
      });
      summary.judged++;
      if (result.error) summary.judge_errors++;
      write(t, result);
    }),
  );
  const output = readTrials(outPath);
  summary.output_total = output.length;
  summary.output_judge_errors = output.filter((t) => t.judge?.error).length;
  return summary;
}
