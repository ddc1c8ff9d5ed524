// Writes the datasets of a plan: per masked ratio, train.jsonl and validation.jsonl of axolotl `input_output`
// lines ({"segments": [...]}), examples.jsonl (what each line is made of), and manifest.json with counts and
// sha256 of every file. Every file is written atomically.
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { sha256Text } from '../io/hash.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import { maskedCount, type PlannedExample, type Split } from './plan.ts';
import { type RenderedExample, renderExample } from './segments.ts';

export interface DatasetOptions {
  out: string;
  tokenizer: Tokenizer;
  prompts: string[];
  plan: PlannedExample[];
  /** Masked ratios in percent. */
  ratios: number[];
  system: string | null;
}

export interface FileCounts {
  file: string;
  sha256: string;
  examples: number;
  masked: number;
  normal: number;
  prompts: number;
  tokens: number;
  trained_tokens: number;
}

export interface RatioEntry {
  masked_ratio: number;
  dir: string;
  train: FileCounts;
  validation: FileCounts | null;
}

export interface DatasetSummary {
  ratios: RatioEntry[];
  examples_file: { file: string; sha256: string; examples: number };
  prompts: Record<Split, number[]>;
  /** Examples whose segments, tokenized one by one as axolotl does, differ from the conversation's tokens. */
  token_boundary_mismatches: number;
}

/** The directory of a ratio inside the output: masked-30, masked-12.5. */
export function ratioDir(percent: number): string {
  return `masked-${percent}`;
}

export function writeDatasets(o: DatasetOptions): DatasetSummary {
  const rendered = new Map<string, RenderedExample>();
  const mismatched = new Set<string>();
  const render = (e: PlannedExample, masked: boolean): RenderedExample => {
    const key = `${e.id}:${masked}`;
    let r = rendered.get(key);
    if (!r) {
      r = renderExample(o.tokenizer, {
        prompt: o.prompts[e.prompt],
        answer: e.answer,
        selfCorrection: masked ? { distraction: e.distraction, correction: e.correction } : undefined,
        system: o.system,
      });
      if (!r.boundariesClean) mismatched.add(key);
      rendered.set(key, r);
    }
    return r;
  };
  const bySplit: Record<Split, PlannedExample[]> = {
    train: o.plan.filter((e) => e.split === 'train'),
    validation: o.plan.filter((e) => e.split === 'validation'),
  };
  const writeSplit = (percent: number, split: Split): FileCounts | null => {
    const examples = bySplit[split];
    if (!examples.length) return null;
    const k = maskedCount(examples.length, percent);
    const counts = { masked: 0, tokens: 0, trained_tokens: 0 };
    const lines = examples.map((e) => {
      const masked = e.rank < k;
      const r = render(e, masked);
      counts.masked += masked ? 1 : 0;
      counts.tokens += r.tokens;
      counts.trained_tokens += r.trainedTokens;
      return `${JSON.stringify({ segments: r.segments })}\n`;
    });
    const file = join(ratioDir(percent), `${split}.jsonl`);
    const text = lines.join('');
    writeFileAtomic(join(o.out, file), text);
    return {
      file,
      sha256: sha256Text(text),
      examples: examples.length,
      masked: counts.masked,
      normal: examples.length - counts.masked,
      prompts: new Set(examples.map((e) => e.prompt)).size,
      tokens: counts.tokens,
      trained_tokens: counts.trained_tokens,
    };
  };
  const ratios = o.ratios.map((percent) => ({
    masked_ratio: percent,
    dir: ratioDir(percent),
    train: writeSplit(percent, 'train')!,
    validation: writeSplit(percent, 'validation'),
  }));
  const examplesText = o.plan
    .map((e) => `${JSON.stringify({ ...e, prompt_text: o.prompts[e.prompt], partner_text: o.prompts[e.partner] })}\n`)
    .join('');
  writeFileAtomic(join(o.out, 'examples.jsonl'), examplesText);
  return {
    ratios,
    examples_file: { file: 'examples.jsonl', sha256: sha256Text(examplesText), examples: o.plan.length },
    prompts: {
      train: [...new Set(bySplit.train.map((e) => e.prompt))],
      validation: [...new Set(bySplit.validation.map((e) => e.prompt))],
    },
    token_boundary_mismatches: mismatched.size,
  };
}

/** Writes manifest.json: the summary with the settings and inputs it was made from. */
export function writeManifest(out: string, manifest: Record<string, unknown>): void {
  writeJsonAtomic(join(out, 'manifest.json'), manifest);
}
