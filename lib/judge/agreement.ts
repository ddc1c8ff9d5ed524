// Cross-judge agreement on the same trials (as the paper reports for its five judges): trials of two
// stores are matched, each judge's inclusion rule applied, and on the trials both count: multi-attempt
// and ESR agreement with Cohen's κ, and the correlation of first-attempt scores.
import { InputError } from '../errors.ts';
import { type BinaryAgreement, cohenKappa, pearson, spearman } from '../stats/agreement.ts';
import { type ExclusionReason, trialScores } from '../trials/metrics.ts';
import type { Trial } from '../trials/types.ts';

export interface JudgedStore {
  path: string;
  trials: Trial[];
  format: 'jsonl' | 'paper';
}

export interface JudgeAgreement {
  files: { a: string; b: string };
  /** Judge ids found in each file (`paper` for the paper's result files). */
  judges: { a: string[]; b: string[] };
  /** Whether a file's judgments come (partly) from the heuristic judge, an approximation. */
  approximation: { a: boolean; b: boolean };
  /** `id` for two trial stores; else (feature, prompt, seed, response). */
  matched_by: 'id' | 'content';
  trials: {
    a: number;
    b: number;
    matched: number;
    only_a: number;
    only_b: number;
    /** Matched trials excluded by one judge or both (per reason, for each side). */
    excluded_a: Partial<Record<ExclusionReason, number>>;
    excluded_b: Partial<Record<ExclusionReason, number>>;
    /** Matched trials counted by both judges: the n of everything below. */
    counted_by_both: number;
  };
  multi_attempt: BinaryAgreement;
  esr: BinaryAgreement;
  /** Share of trials where both judges found the same number of attempts. */
  same_attempt_count: number;
  first_score: { pearson: number | null; spearman: number | null; mean_abs_diff: number };
}

const contentKey = (t: Trial): string => JSON.stringify([t.feature, t.prompt, t.seed, t.response]);

function index(s: JudgedStore, key: (t: Trial) => string): Map<string, Trial> {
  const m = new Map<string, Trial>();
  for (const t of s.trials) {
    const k = key(t);
    if (m.has(k))
      throw new InputError(
        `${s.path}: two trials share the matching key ${k.length > 120 ? `${k.slice(0, 120)}…` : k} (each trial must appear once)`,
      );
    m.set(k, t);
  }
  return m;
}

const judgesOf = (trials: Trial[]): string[] => [
  ...new Set(trials.map((t) => t.judge?.id).filter((x): x is string => typeof x === 'string')),
];
const isApproximation = (trials: Trial[]): boolean =>
  trials.some(
    (t) =>
      t.judge?.id === 'heuristic' ||
      (t.provenance?.judge as { approximation?: boolean } | undefined)?.approximation === true,
  );

export function judgeAgreement(a: JudgedStore, b: JudgedStore): JudgeAgreement {
  const matchedBy = a.format === 'jsonl' && b.format === 'jsonl' ? 'id' : 'content';
  const key = matchedBy === 'id' ? (t: Trial) => t.id : contentKey;
  const ia = index(a, key);
  const ib = index(b, key);
  const excludedA: Partial<Record<ExclusionReason, number>> = {};
  const excludedB: Partial<Record<ExclusionReason, number>> = {};
  const pairs: [number[], number[]][] = [];
  let matched = 0;
  for (const [k, ta] of ia) {
    const tb = ib.get(k);
    if (!tb) continue;
    matched++;
    const sa = trialScores(ta);
    const sb = trialScores(tb);
    if ('excluded' in sa) excludedA[sa.excluded] = (excludedA[sa.excluded] ?? 0) + 1;
    if ('excluded' in sb) excludedB[sb.excluded] = (excludedB[sb.excluded] ?? 0) + 1;
    if ('scores' in sa && 'scores' in sb) pairs.push([sa.scores, sb.scores]);
  }
  if (matched === 0) {
    throw new InputError(
      `${a.path} and ${b.path}: no trial appears in both (matched by ${matchedBy === 'id' ? 'trial id' : 'feature, prompt, seed and response'}); give two gradings of the same trials`,
    );
  }
  if (pairs.length === 0)
    throw new InputError(
      `${a.path} and ${b.path}: ${matched} trials in common, but none counted by both judges (all excluded)`,
    );
  const multi = (s: number[]) => s.length > 1;
  const esr = (s: number[]) => s.length > 1 && s[s.length - 1] > s[0];
  const fa = pairs.map(([x]) => x[0]);
  const fb = pairs.map(([, y]) => y[0]);
  return {
    files: { a: a.path, b: b.path },
    judges: { a: judgesOf(a.trials), b: judgesOf(b.trials) },
    approximation: { a: isApproximation(a.trials), b: isApproximation(b.trials) },
    matched_by: matchedBy,
    trials: {
      a: a.trials.length,
      b: b.trials.length,
      matched,
      only_a: a.trials.length - matched,
      only_b: b.trials.length - matched,
      excluded_a: excludedA,
      excluded_b: excludedB,
      counted_by_both: pairs.length,
    },
    multi_attempt: cohenKappa(
      pairs.map(([x]) => multi(x)),
      pairs.map(([, y]) => multi(y)),
    ),
    esr: cohenKappa(
      pairs.map(([x]) => esr(x)),
      pairs.map(([, y]) => esr(y)),
    ),
    same_attempt_count: pairs.filter(([x, y]) => x.length === y.length).length / pairs.length,
    first_score: {
      pearson: pearson(fa, fb),
      spearman: spearman(fa, fb),
      mean_abs_diff: fa.reduce((s, x, i) => s + Math.abs(x - fb[i]), 0) / fa.length,
    },
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const num = (x: number | null): string => (x === null ? 'undefined' : x.toFixed(3));
const reasons = (r: Partial<Record<ExclusionReason, number>>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

/** The agreement as text for the terminal. */
export function agreementText(g: JudgeAgreement): string {
  const label = (side: 'a' | 'b') =>
    `${g.judges[side].join(', ') || 'no judge'}${g.approximation[side] ? ' (heuristic: an APPROXIMATION, not an LLM judgment)' : ''}`;
  const t = g.trials;
  const row = (name: string, x: BinaryAgreement) =>
    `| ${name} | ${pct(x.rate_a)} | ${pct(x.rate_b)} | ${pct(x.agreement)} | ${num(x.kappa)} |`;
  return [
    `A: ${g.files.a} — judge ${label('a')}`,
    `B: ${g.files.b} — judge ${label('b')}`,
    `${t.matched} trials in both (matched by ${g.matched_by === 'id' ? 'trial id' : 'feature, prompt, seed and response'}; ${t.only_a} only in A, ${t.only_b} only in B); ` +
      `excluded by A: ${reasons(t.excluded_a)}; by B: ${reasons(t.excluded_b)}; counted by both: ${t.counted_by_both}`,
    '',
    "| | A | B | agreement | Cohen's κ |",
    '|---|---|---|---|---|',
    row('multi-attempt', g.multi_attempt),
    row('ESR', g.esr),
    '',
    `same number of attempts: ${pct(g.same_attempt_count)}; first-attempt score: Pearson r ${num(g.first_score.pearson)}, Spearman ρ ${num(g.first_score.spearman)}, mean |A − B| ${g.first_score.mean_abs_diff.toFixed(1)}`,
  ].join('\n');
}
