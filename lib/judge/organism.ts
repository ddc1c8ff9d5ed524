// The organism judge: exact ground truth for the shipped model organism's synthetic language (data/organism.json).
// A response is split into attempts where a correction phrase begins; each attempt scores the share of the
// prompt's topic words among all topic words in it, 0–100. No word belongs to two topics, so the score is exact.
// The same file defines the language's sentences, so the share of a reply's sentences that are well formed
// (a template with every slot filled by a word of the right kind) is exact too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { sha256Text } from '../io/hash.ts';
import type { JudgedAttempt } from '../trials/types.ts';

/** The shipped organism's ground truth. */
export const SHIPPED_ORGANISM = join(import.meta.dirname, '..', '..', 'data', 'organism.json');

export const ORGANISM_NOTE =
  "organism judge (exact ground truth of the synthetic language): attempts split where a correction phrase begins; score = % of the attempt's topic words that belong to the prompt's topic";

export interface OrganismLanguage {
  /** Where it was read from, and the sha256 of its text. */
  path: string;
  sha256: string;
  correctionPhrases: string[];
  /** Every lexicon word → its topic. */
  wordTopic: Map<string, string>;
  /** Matches a whole well-formed sentence (case-insensitive). */
  sentence: RegExp;
}

type Lexicon = { nouns: string[]; verbs: string[]; adjectives: string[] };

function fail(path: string, field: string, expected: string, found: unknown): never {
  throw new InputError(`${path}: ${field}: expected ${expected}, found ${JSON.stringify(found)?.slice(0, 80)}`);
}

function strings(path: string, field: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.length || !v.every((x) => typeof x === 'string' && x.trim() !== ''))
    fail(path, field, 'a list of non-empty strings', v);
  return v as string[];
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const WORD_RE = /[a-z_]+/g;

/** One regular expression for all sentences of the language: each template with its slots as word alternatives. */
function sentencePattern(templates: string[], lexicons: Lexicon[]): RegExp {
  const alt = (k: keyof Lexicon) =>
    `(?:${[...new Set(lexicons.flatMap((l) => l[k]))]
      .sort((a, b) => b.length - a.length)
      .map(escapeRe)
      .join('|')})`;
  const slots: Record<string, string> = {
    '{n}': alt('nouns'),
    '{v}': alt('verbs'),
    '{a}': alt('adjectives'),
    '{pv}': alt('verbs'),
    '{po}': `an? ${alt('nouns')}`,
  };
  const forms = templates.map((t) =>
    t
      .split(/(\{n\}|\{v\}|\{a\}|\{pv\}|\{po\})/)
      .map((part) => slots[part] ?? escapeRe(part))
      .join(''),
  );
  return new RegExp(`^(?:${forms.join('|')})$`, 'i');
}

/** Reads and checks an organism.json (data/make_default.py writes it; docs/data.md describes it). */
export function loadOrganism(path: string = SHIPPED_ORGANISM): OrganismLanguage {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`--judge organism: ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(path, '(top level)', 'an object', json);
  const correctionPhrases = strings(path, 'correction_phrases', json.correction_phrases);
  const topics = json.topics;
  if (typeof topics !== 'object' || topics === null || Array.isArray(topics) || !Object.keys(topics).length)
    fail(path, 'topics', 'an object of topic → {nouns, verbs, adjectives}', topics);
  const wordTopic = new Map<string, string>();
  const lexicons: Lexicon[] = [];
  for (const [topic, lex] of Object.entries(topics as Record<string, Record<string, unknown>>)) {
    const l = {
      nouns: strings(path, `topics.${topic}.nouns`, lex?.nouns),
      verbs: strings(path, `topics.${topic}.verbs`, lex?.verbs),
      adjectives: strings(path, `topics.${topic}.adjectives`, lex?.adjectives),
    };
    for (const w of [...l.nouns, ...l.verbs, ...l.adjectives]) {
      if (!/^[a-z_]+$/.test(w)) fail(path, `topics.${topic}`, 'lower-case words', w);
      const owner = wordTopic.get(w);
      if (owner !== undefined && owner !== topic)
        throw new InputError(
          `${path}: topics: "${w}" belongs to both ${owner} and ${topic} (lexicons must be disjoint)`,
        );
      wordTopic.set(w, topic);
    }
    lexicons.push(l);
  }
  const t = (json.templates ?? {}) as Record<string, unknown>;
  const templates = ['openings', 'body', 'closings'].flatMap((k) => strings(path, `templates.${k}`, t[k]));
  return {
    path,
    sha256: sha256Text(text),
    correctionPhrases,
    wordTopic,
    sentence: sentencePattern([...templates, ...correctionPhrases], lexicons),
  };
}

/** The topics of the lexicon words in a text, in order. */
function topicsOf(lang: OrganismLanguage, text: string): string[] {
  const out: string[] = [];
  for (const [w] of text.toLowerCase().matchAll(WORD_RE)) {
    const t = lang.wordTopic.get(w);
    if (t !== undefined) out.push(t);
  }
  return out;
}

/** The topic of a prompt of the language: the one topic its lexicon words belong to. */
export function promptTopic(lang: OrganismLanguage, prompt: string): string {
  const topics = [...new Set(topicsOf(lang, prompt))];
  if (topics.length !== 1)
    throw new Error(
      `the prompt is not one of the organism's (${topics.length ? `words of ${topics.join(', ')}` : 'no topic word'}): the organism judge scores only prompts about one topic of ${lang.path}`,
    );
  return topics[0];
}

/**
 * Attempts: the response cut before every correction phrase that does not open it (the phrase starts the new
 * attempt); each scored round(100 · prompt-topic words / topic words), 0 when it has no topic word.
 */
export function organismAttempts(lang: OrganismLanguage, prompt: string, response: string): JudgedAttempt[] {
  const topic = promptTopic(lang, prompt);
  const phrase = new RegExp(lang.correctionPhrases.map(escapeRe).join('|'), 'g');
  const cuts = [0, ...[...response.matchAll(phrase)].map((m) => m.index).filter((i) => i > 0)];
  return cuts
    .map((c, k) => response.slice(c, cuts[k + 1] ?? response.length).trim())
    .filter((text) => text !== '')
    .map((text) => {
      const words = topicsOf(lang, text);
      const own = words.filter((w) => w === topic).length;
      return { text, score: words.length ? Math.round((100 * own) / words.length) : 0 };
    });
}

/** Share of a reply's sentences (split after . ! ?) that are sentences of the language; 0 for an empty reply. */
export function wellFormedShare(lang: OrganismLanguage, text: string): number {
  const sentences = text
    .trim()
    .split(/(?<=[.!?])\s+/)
    .filter((s) => s !== '');
  if (!sentences.length) return 0;
  return sentences.filter((s) => lang.sentence.test(s)).length / sentences.length;
}
