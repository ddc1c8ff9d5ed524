// Example responses in the style of the paper's Figure 1: per condition, a few counted trials with the response
// cut into the judge's attempts and each attempt's score. Picked deterministically: multi-attempt trials first
// (the largest score delta a_last − a_0 first), then typical single-attempt ones (first score nearest the
// condition's median); within each tier one trial per steered feature before a second of any feature.
import { trialScores } from './metrics.ts';
import type { Trial } from './types.ts';

export type ExampleKind = 'multi-attempt' | 'typical';

/** One attempt as it appears in the response: its character span there, when the judge quoted it verbatim. */
export interface ExampleAttempt {
  text: string;
  score: number | null;
  /** [start, end) in the response; null when the attempt's text is not found in it (a paraphrasing judge). */
  span: [number, number] | null;
}

export interface TrialExample {
  trial: Trial;
  kind: ExampleKind;
  attempts: ExampleAttempt[];
  /** The scored attempts' scores (nulls dropped), as the metrics count them. */
  scores: number[];
  /** a_last − a_0 over the scored attempts (multi-attempt trials), else null. */
  delta: number | null;
}

/** "multi-attempt, 10 → 90 (+80)" or "typical". */
export function exampleKindText(e: TrialExample): string {
  if (e.kind === 'typical') return 'typical';
  const d = e.delta!;
  return `multi-attempt, ${e.scores[0]} → ${e.scores[e.scores.length - 1]} (${d >= 0 ? '+' : ''}${d})`;
}

/** Places each attempt in the response, in order, by exact match (then whitespace-insensitive). */
export function locateAttempts(response: string, attempts: { text: string; score: number | null }[]): ExampleAttempt[] {
  let from = 0;
  return attempts.map((a) => {
    const text = a.text.trim();
    let span: [number, number] | null = null;
    const at = text ? response.indexOf(text, from) : -1;
    if (at >= 0) span = [at, at + text.length];
    else if (text) {
      // the judge may have folded whitespace: match the words with any whitespace between them
      const words = text.split(/\s+/).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      const m = new RegExp(words.join('\\s+'), 'g');
      m.lastIndex = from;
      const hit = m.exec(response);
      if (hit) span = [hit.index, hit.index + hit[0].length];
    }
    if (span) from = span[1];
    return { text: a.text, score: a.score, span };
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : 0;
};

/** Round-robin over features in the given order: every feature's best before any feature's second. */
function spreadOverFeatures(items: TrialExample[]): TrialExample[] {
  const seen = new Map<number, number>();
  return items
    .map((e, i) => {
      const round = seen.get(e.trial.feature) ?? 0;
      seen.set(e.trial.feature, round + 1);
      return { e, round, i };
    })
    .sort((a, b) => a.round - b.round || a.i - b.i)
    .map((x) => x.e);
}

/** Up to `n` examples of each condition (in the order conditions first appear), from counted trials only. */
export function pickExamples(trials: Trial[], n: number): Map<string, TrialExample[]> {
  const out = new Map<string, TrialExample[]>();
  if (n <= 0) return out;
  const byCondition = new Map<string, { trial: Trial; scores: number[] }[]>();
  for (const t of trials) {
    const s = trialScores(t);
    if (!('scores' in s)) continue;
    byCondition.set(t.condition, [...(byCondition.get(t.condition) ?? []), { trial: t, scores: s.scores }]);
  }
  const byId = (a: { trial: Trial }, b: { trial: Trial }) =>
    a.trial.id < b.trial.id ? -1 : a.trial.id > b.trial.id ? 1 : 0;
  for (const [condition, counted] of byCondition) {
    const example = (c: { trial: Trial; scores: number[] }, kind: ExampleKind): TrialExample => ({
      trial: c.trial,
      kind,
      attempts: locateAttempts(c.trial.response, c.trial.judge!.attempts),
      scores: c.scores,
      delta: kind === 'multi-attempt' ? c.scores[c.scores.length - 1] - c.scores[0] : null,
    });
    const multi = counted
      .filter((c) => c.scores.length > 1)
      .map((c) => ({ ...c, delta: c.scores[c.scores.length - 1] - c.scores[0] }))
      .sort((a, b) => b.delta - a.delta || byId(a, b))
      .map((c) => example(c, 'multi-attempt'));
    const single = counted.filter((c) => c.scores.length === 1);
    const mid = median(single.map((c) => c.scores[0]));
    const typical = single
      .sort((a, b) => Math.abs(a.scores[0] - mid) - Math.abs(b.scores[0] - mid) || byId(a, b))
      .map((c) => example(c, 'typical'));
    out.set(condition, [...spreadOverFeatures(multi), ...spreadOverFeatures(typical)].slice(0, n));
  }
  return out;
}

/** Model text as literal Markdown: whitespace folded, the characters Markdown would act on escaped. */
function mdText(s: string): string {
  return s
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\`*_{}[\]()<>#+!|~]/g, '\\$&');
}

/** The examples as short Markdown for summary.md: each attempt bracketed with its score, long texts cut. */
export function examplesMarkdown(examples: Map<string, TrialExample[]>, maxChars = 400): string {
  const lines: string[] = [];
  const cut = (s: string) => (s.length > maxChars ? `${s.slice(0, maxChars).trimEnd()} …` : s);
  for (const [condition, list] of examples) {
    lines.push(`### ${condition}`, '');
    for (const e of list) {
      const t = e.trial;
      const feature = `${t.feature}${t.feature_label ? ` "${mdText(t.feature_label)}"` : ''}`;
      lines.push(
        `- **${mdText(t.prompt)}** — steering feature ${feature}${t.boost === null ? '' : `, boost ${Number(t.boost.toPrecision(3))}`}; ${exampleKindText(e)} (trial \`${t.id}\`)`,
        `  ${e.attempts.map((a, i) => `**[attempt ${i + 1} · ${a.score ?? '–'}]** ${mdText(cut(a.text.replace(/\s+/g, ' ').trim()))}`).join(' ')}`,
      );
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}
