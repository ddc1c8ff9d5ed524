// The examples of a self-correction dataset, before rendering: each normal response of a prompt is one example;
// at a masked ratio ρ the first round(ρ·n) examples of a split in a seeded order become self-correction examples
// (a distraction from another prompt's response, a correction phrase, then the response). The order is shared by
// every ratio, so datasets at different ratios hold the same examples and the masked ones are nested.
import { InputError } from '../errors.ts';
import { sha256Text } from '../io/hash.ts';
import { derangements } from '../discovery/pairs.ts';
import { Rng } from '../random.ts';

export type Split = 'train' | 'validation';

export interface PlannedExample {
  /** `p<prompt>.r<k>`: the k-th response of prompt `prompt`. */
  id: string;
  split: Split;
  prompt: number;
  answer: string;
  /** The prompt whose response the distraction comes from (another prompt of the same split). */
  partner: number;
  /** The distraction: the first sentences of the partner's response (or an LLM's text, see llmDistractions.ts). */
  distraction: string;
  correction: string;
  /** Position in the split's masking order: masked at ratio ρ iff rank < round(ρ · examples in the split). */
  rank: number;
}

export interface PlanOptions {
  prompts: string[];
  /** Normal responses per prompt (at least one each). */
  answers: string[][];
  seed: number;
  /** Share of prompts held out for validation (0 = none). */
  validation: number;
  /** Sentences of the partner's response a distraction takes: uniform in [min, max], at most all it has. */
  distractionSentences: [number, number];
  corrections: string[];
}

/** An integer seed of its own for one unit (an example, a split's order), from the run seed and the unit's name. */
export function unitSeed(seed: number, unit: string): number {
  return Number.parseInt(sha256Text(`${seed}:${unit}`).slice(0, 8), 16);
}

/** Character offsets where each sentence of `text` ends (after . ! ? and closing quotes or brackets). */
export function sentenceEnds(text: string): number[] {
  const ends: number[] = [];
  for (const m of text.matchAll(/[.!?…]+["')\]]*(?=\s|$)/g)) ends.push(m.index + m[0].length);
  const last = text.trimEnd().length;
  if (!ends.length || ends[ends.length - 1] < last) ends.push(last);
  return ends;
}

/** The first `n` sentences of a response (all of it when it has fewer). */
export function firstSentences(text: string, n: number): string {
  const ends = sentenceEnds(text.trim());
  return text.trim().slice(0, ends[Math.min(n, ends.length) - 1]);
}

/** Seeded shuffle (Fisher–Yates) of a copy. */
function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Prompts by split: a seeded share held out for validation (at least 2 when any, as distractions need a partner). */
export function splitPrompts(n: number, validation: number, seed: number): Record<Split, number[]> {
  const held = validation > 0 ? Math.max(2, Math.round(validation * n)) : 0;
  if (n - held < 2)
    throw new InputError(
      `${n} prompts: too few to hold out ${held} for validation and keep 2 for training (each split needs 2 prompts for distractions)`,
    );
  const order = shuffled(
    Array.from({ length: n }, (_, i) => i),
    new Rng(unitSeed(seed, 'split')),
  );
  const byIndex = (a: number, b: number) => a - b;
  return { validation: order.slice(0, held).sort(byIndex), train: order.slice(held).sort(byIndex) };
}

/** Refuses settings no plan can be made with (before any work). */
export function checkPlanSettings(o: Pick<PlanOptions, 'distractionSentences' | 'corrections' | 'validation'>): void {
  const [lo, hi] = o.distractionSentences;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && hi >= lo))
    throw new InputError(`--distraction-sentences: expected MIN-MAX with 1 ≤ MIN ≤ MAX, found ${lo}-${hi}`);
  if (!o.corrections.length) throw new InputError('no correction phrases');
  if (!(o.validation >= 0 && o.validation < 1))
    throw new InputError(`--validation: expected a share in [0, 1), found ${o.validation}`);
}

export function planExamples(o: PlanOptions): PlannedExample[] {
  checkPlanSettings(o);
  const [lo, hi] = o.distractionSentences;
  o.answers.forEach((a, i) => {
    if (!a.length) throw new InputError(`prompt ${i} ("${o.prompts[i]}") has no response`);
  });
  const splits = splitPrompts(o.prompts.length, o.validation, o.seed);
  const parts = [splits.train, splits.validation].filter((p) => p.length);
  // disjoint derangements within each split: a prompt's responses take distractions from distinct partners
  // (as many as the smaller split allows, then again from the first)
  const slots = Math.max(...o.answers.map((a) => a.length));
  const perms = derangements(
    o.prompts.length,
    Math.min(slots, ...parts.map((p) => p.length - 1)),
    unitSeed(o.seed, 'derangements'),
    parts,
  );
  const out: PlannedExample[] = [];
  for (const split of ['train', 'validation'] as const) {
    const members = splits[split];
    if (!members.length) continue;
    const examples: Omit<PlannedExample, 'rank'>[] = [];
    for (let k = 0; k < slots; k++) {
      // response k of each prompt takes its distraction from response k of its partner in derangement k
      const perm = perms[k % perms.length];
      for (const i of members) {
        if (k >= o.answers[i].length) continue;
        const partner = perm[i];
        const id = `p${i}.r${k}`;
        const rng = new Rng(unitSeed(o.seed, id));
        const sentences = lo + rng.int(hi - lo + 1);
        const source = o.answers[partner][k % o.answers[partner].length];
        examples.push({
          id,
          split,
          prompt: i,
          answer: o.answers[i][k].trim(),
          partner,
          distraction: firstSentences(source, sentences),
          correction: o.corrections[rng.int(o.corrections.length)],
        });
      }
    }
    const order = shuffled(
      examples.map((_, j) => j),
      new Rng(unitSeed(o.seed, `${split}:order`)),
    );
    const rank = new Array<number>(examples.length);
    order.forEach((j, r) => {
      rank[j] = r;
    });
    examples.forEach((e, j) => out.push({ ...e, rank: rank[j] }));
  }
  return out;
}

/** How many examples of a split are masked at a ratio given in percent. */
export function maskedCount(n: number, percent: number): number {
  return Math.round((percent / 100) * n);
}
