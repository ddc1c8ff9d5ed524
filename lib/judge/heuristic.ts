// The offline heuristic judge: an APPROXIMATION of an LLM judge, deterministic and free.
// Attempts are split where a sentence explicitly restarts ("Wait, …", "let me get back to …");
// each attempt scores the share of the prompt's content words it contains.
import type { JudgedAttempt } from '../trials/types.ts';

export const HEURISTIC_NOTE =
  'heuristic approximation (not an LLM judgment): attempts split at explicit restart phrases; ' +
  "score = % of the prompt's content words present in the attempt";

/** A sentence starts after . ! ? … (then whitespace), after a newline, or after an em dash. */
const SENTENCE_BREAK_RE = /(?:[.!?…]+["')\]]*\s+|\n\s*|—\s*)(?=\S)/g;

/** Phrases that explicitly start over. The first is anchored at the sentence start; the rest may appear anywhere in it. */
const RESTART_RES = [
  /^(?:(?:oh|ah|hmm+|um+|okay|ok|well|actually|but)[,!.]?\s+)?(?:wait|oops|whoops)\b/i,
  /\blet me (?:get back|go back|come back|return|refocus|start over|start again|try again|re-?answer)\b/i,
  /\b(?:back|returning|to return) to (?:the|your) (?:actual |original |main )?(?:question|topic|task)\b/i,
  /\b(?:got|gotten|get|went|going|drifted|drifting|wandered|strayed|been)\s+(?:a (?:bit|little) )?(?:off[- ]topic|off[- ]track|sidetracked|side-tracked|distracted|carried away)\b/i,
  /\b(?:i digress|(?:sorry|apologies) (?:for|about) (?:the|that|my) (?:digression|tangent|confusion))\b/i,
];

/** Function words and instruction words ("explain", "how") that say nothing about the topic. */
const STOPWORDS = new Set(
  `the and for are but not you all any can had her was one our out has him his its may now see who did get let say she too use
  that with have this will your from they know want been some very when come here just like make many more most only over such
  than them then there these those into what which while would about also could each other their should where after before does
  doing done being because were itself yourself yours explain describe tell please give list write show why how`.split(
    /\s+/,
  ),
);

/** Character offsets where sentences start (the first is the first non-space character). */
function sentenceStarts(text: string): number[] {
  const first = text.search(/\S/);
  if (first < 0) return [];
  const starts = [first];
  for (const m of text.matchAll(SENTENCE_BREAK_RE)) starts.push(m.index + m[0].length);
  return starts;
}

function isRestart(sentence: string): boolean {
  return RESTART_RES.some((re) => re.test(sentence));
}

/**
 * Splits a response into attempts: a new attempt begins at each sentence (after the first) that
 * contains a restart phrase, unless the sentence before it did too (so "Wait. Let me get back to
 * the question." is one restart). Attempt texts are trimmed slices of the response.
 */
export function segmentAttempts(response: string): string[] {
  const starts = sentenceStarts(response);
  if (!starts.length) return [];
  const restart = starts.map((s, j) => isRestart(response.slice(s, starts[j + 1] ?? response.length)));
  const cuts = [0, ...starts.filter((_, j) => j > 0 && restart[j] && !restart[j - 1])];
  return cuts.map((c, k) => response.slice(c, cuts[k + 1] ?? response.length).trim());
}

/** Lower-cased words of 3+ letters that are not stopwords, with one plural "s" removed. */
export function contentTerms(text: string): Set<string> {
  const terms = new Set<string>();
  for (const [word] of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
    if (word.length < 3 || STOPWORDS.has(word)) continue;
    terms.add(word.length >= 4 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word);
  }
  return terms;
}

/** round(100 · |prompt terms ∩ attempt terms| / |prompt terms|); null when the prompt has no content terms. */
export function relevanceScore(prompt: string, attempt: string): number | null {
  const wanted = contentTerms(prompt);
  if (!wanted.size) return null;
  const have = contentTerms(attempt);
  let hits = 0;
  for (const term of wanted) if (have.has(term)) hits++;
  return Math.round((100 * hits) / wanted.size);
}

export function heuristicAttempts(prompt: string, response: string): JudgedAttempt[] {
  return segmentAttempts(response).map((text) => ({ text, score: relevanceScore(prompt, text) }));
}
