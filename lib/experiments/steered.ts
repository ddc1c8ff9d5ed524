// Steered generation, judged: rows (prompt, seed, interventions, instruction) go to the model in
// batches — rows of one batch may carry different interventions — and each response to the judge.
import type { Judge } from '../judge/index.ts';
import { applyChatTemplate } from '../model/chat.ts';
import type { SamplingOptions } from '../model/sampling.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import { type Executor, generateRows } from '../parallel/pool.ts';
import type { Intervention } from '../steering/types.ts';
import type { JudgeResult } from '../trials/types.ts';

export interface Sampling extends SamplingOptions {
  maxNewTokens: number;
}

export interface SteeredRow {
  prompt: string;
  seed: number;
  interventions: Intervention[];
  /** An instruction (the meta-prompt) appended to the user's turn or sent as a system message; null for none. */
  instruction: Instruction | null;
  featureLabel: string | null;
}

export interface JudgedRow {
  response: string;
  judge: JudgeResult;
  /** Tokens generated, the stop token included when one was produced. */
  generatedTokens: number;
  /** `eos`: a stop token ended the response; `length`: it ran to the token limit. */
  finishReason: 'eos' | 'length';
}

export interface SteeredGenerator {
  executor: Executor;
  tokenizer: Tokenizer;
  stopIds: number[];
  sampling: Sampling;
  judge: Judge;
  /** Sequences decoded at once per model copy (KV cache slots); the trials do not depend on it. */
  batchSize: number;
}

export type MetaPromptPlacement = 'user' | 'system';
export const META_PROMPT_PLACEMENTS: MetaPromptPlacement[] = ['user', 'system'];

/** An instruction to the steered model: appended to the user's turn after a blank line (the paper's way), or a system message. */
export interface Instruction {
  text: string;
  placement: MetaPromptPlacement;
}

/** The user's turn as the model sees it: the prompt, with a user-turn instruction appended after a blank line. */
export function userTurn(prompt: string, instruction: Instruction | null): string {
  return instruction?.placement === 'user' ? `${prompt}\n\n${instruction.text}` : prompt;
}

export function renderPrompt(tokenizer: Tokenizer, prompt: string, instruction: Instruction | null): number[] {
  const system = instruction?.placement === 'system' ? { system: instruction.text } : {};
  return applyChatTemplate(tokenizer, [{ role: 'user', content: userTurn(prompt, instruction) }], {
    addGenerationPrompt: true,
    ...system,
  });
}

/**
 * A row whose logits were NaN or infinite: its "response" would be garbage scored as an answer (an empty
 * one scored 0), so the run stops (exit 1) naming the row's trial and interventions.
 */
export class NonFiniteOutput extends Error {
  constructor(row: SteeredRow & { id?: string }, step: number) {
    const ivs = row.interventions.map((iv) => `${iv.mode} ${iv.latent}@${iv.hook}=${iv.value}`).join(', ') || 'none';
    super(
      `${row.id === undefined ? '' : `trial ${row.id}: `}non-finite logits (NaN or Inf) at generated token ${step + 1} ` +
        `(prompt ${JSON.stringify(row.prompt.slice(0, 60))}, seed ${row.seed}, interventions ${ivs}): the residual stream overflowed; lower the steering value`,
    );
    this.name = 'NonFiniteOutput';
  }
}

/**
 * Generates and judges `rows`, calling `onJudged(index, result)` in row order. Rows are continuously batched
 * (a finished row's slot takes the next), and each row is judged as soon as its generation finishes, while
 * the others generate; a judged row waits for the rows before it, so what a caller writes in this order does
 * not depend on which rows finished first (the batch size, the judge's latency). A row whose logits were not
 * finite rejects with NonFiniteOutput: the rows before it are delivered, none from it on.
 */
export async function generateAndJudge(
  g: SteeredGenerator,
  rows: SteeredRow[],
  onJudged: (index: number, r: JudgedRow) => void | Promise<void>,
): Promise<void> {
  const judging: Promise<void>[] = [];
  const landed = new Map<number, JudgedRow>();
  let next = 0;
  let delivering = Promise.resolve();
  const deliver = async () => {
    while (landed.has(next)) {
      const r = landed.get(next)!;
      landed.delete(next);
      await onJudged(next++, r);
    }
  };
  await generateRows(
    g.executor,
    rows.map((r) => ({
      prompt: renderPrompt(g.tokenizer, r.prompt, r.instruction),
      seed: r.seed,
      interventions: r.interventions,
    })),
    { ...g.sampling, stopIds: g.stopIds, batch: g.batchSize },
    (index, gen) => {
      const row = rows[index];
      if (gen.nonFinite >= 0) {
        const failed = Promise.reject(new NonFiniteOutput(row, gen.nonFinite));
        failed.catch(() => {}); // reported by allSettled below
        judging.push(failed);
        return;
      }
      const response = g.tokenizer.decode(gen.tokens, { skipSpecialTokens: true }).trim();
      const done = {
        generatedTokens: gen.tokens.length,
        finishReason: gen.stopped ? ('eos' as const) : ('length' as const),
      };
      const p = g.judge.judge({ prompt: row.prompt, response, featureLabel: row.featureLabel }).then((judge) => {
        landed.set(index, { response, judge, ...done });
        delivering = delivering.then(deliver);
        return delivering;
      });
      p.catch(() => {}); // surfaced by allSettled below; this only keeps an early failure from going unhandled
      judging.push(p);
    },
  );
  // every judgment in flight lands (or fails) before the first failure is reported, so what was stored
  // does not depend on timing
  const failure = (await Promise.allSettled(judging)).find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
}
