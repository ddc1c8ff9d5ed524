// Import of the paper's `experiment_results_*.json` files into Trial records (docs/design.md
// "Paper result files"). Nothing is dropped here: trials the paper would skip are kept with their error
// set, so the metrics count them under the same inclusion rules as our own store.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError } from '../errors.ts';
import { readTrials } from './store.ts';
import type { Trial } from './types.ts';

interface PaperAttempt { attempt_text?: string; score?: number | null }
interface PaperTrial {
  prompt: string;
  feature_index_in_sae?: number;
  feature_label?: string;
  threshold?: number | null;
  seed?: number;
  response?: string;
  error?: string | null;
  score?: { raw_response?: string | null; attempts?: PaperAttempt[]; error?: string } | null;
}
interface PaperFeature { feature_index_in_sae: number; feature_label?: string; threshold?: number | null; error?: string | null; trials?: PaperTrial[] }
interface PaperFile { experiment_config?: unknown; results_by_feature: PaperFeature[]; ablated_latents?: number[] }

/** True when a parsed JSON value looks like a paper result file (has `results_by_feature`). */
export function isPaperResults(value: unknown): value is PaperFile {
  return typeof value === 'object' && value !== null && Array.isArray((value as PaperFile).results_by_feature);
}

/** `ablation` for files with ablated latents (or named `..._with_ablation`), else `baseline`. */
export function paperCondition(path: string, file: PaperFile): string {
  return (file.ablated_latents?.length ?? 0) > 0 || /_with_ablation/.test(basename(path)) ? 'ablation' : 'baseline';
}

export function importPaperResults(path: string, file: PaperFile, condition = paperCondition(path, file)): Trial[] {
  const source = basename(path);
  const trials: Trial[] = [];
  file.results_by_feature.forEach((f, fi) => {
    if (typeof f.feature_index_in_sae !== 'number') throw new InputError(`${path}: results_by_feature[${fi}].feature_index_in_sae: expected a number`);
    (f.trials ?? []).forEach((t, ti) => {
      const score = t.score ?? null;
      const attempts = (score && Array.isArray(score.attempts) ? score.attempts : []).map((a) => ({
        text: a.attempt_text ?? '',
        score: typeof a.score === 'number' ? a.score : null,
      }));
      trials.push({
        id: `${source}:${fi}:${ti}`,
        feature: f.feature_index_in_sae,
        feature_label: f.feature_label ?? t.feature_label ?? null,
        prompt: t.prompt,
        seed: t.seed ?? 0,
        condition,
        boost: t.threshold ?? f.threshold ?? null,
        interventions: [],
        response: t.response ?? '',
        judge: score === null ? null : { id: 'paper', attempts, raw: score.raw_response ?? null, error: score.error ?? null },
        error: f.error ? `feature error: ${f.error}` : (t.error ?? null),
        provenance: { source: path, ablated_latents: file.ablated_latents ?? [] },
      });
    });
  });
  return trials;
}

/** True when the file's first line is a whole trial record (our JSONL store, read line by line). */
function looksLikeTrialStore(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(1 << 20);
    const n = readSync(fd, head, 0, head.length, 0);
    const nl = head.subarray(0, n).indexOf(10);
    if (nl < 0) return false;
    const first = JSON.parse(head.subarray(0, nl).toString('utf8'));
    return typeof first === 'object' && first !== null && 'id' in first && 'response' in first;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Reads trials from our JSONL trial store or a paper result file, told apart by content. */
export function loadTrials(path: string): { trials: Trial[]; format: 'jsonl' | 'paper' } {
  if (!existsSync(path)) throw new InputError(`${path}: trial file not found`);
  if (looksLikeTrialStore(path)) return { trials: readTrials(path), format: 'jsonl' };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read the trial file (${(err as Error).message})`);
  }
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined; // several lines: our JSONL store
  }
  if (isPaperResults(whole)) return { trials: importPaperResults(path, whole), format: 'paper' };
  return { trials: readTrials(path), format: 'jsonl' };
}
