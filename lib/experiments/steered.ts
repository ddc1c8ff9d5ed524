// Steered generation, judged: rows (prompt, seed, interventions, instruction) go to the model in
// batches — rows of one batch may carry different interventions — and each response to the judge.
import type { Judge } from '../judge/index.ts';
import { applyChatTemplate } from '../model/chat.ts';
import type { SamplingOptions } from '../model/sampling.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import { type Executor, runOrdered } from '../parallel/pool.ts';
import type { GenerateTask } from '../parallel/tasks.ts';
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
}

export interface SteeredGenerator {
  executor: Executor;
  tokenizer: Tokenizer;
  stopIds: number[];
  sampling: Sampling;
  judge: Judge;
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
 * Generates and judges `rows` in batches, calling `onJudged(index, result)` as each row's judgment
 * lands (not necessarily in row order). Judging overlaps the next batches' generation; at most
 * `4 · batchSize` judgments wait at once.
 */
export async function generateAndJudge(
  g: SteeredGenerator,
  rows: SteeredRow[],
  onJudged: (index: number, r: JudgedRow) => void | Promise<void>,
): Promise<void> {
  const tasks: GenerateTask[] = [];
  for (let i = 0; i < rows.length; i += g.batchSize) {
    const chunk = rows.slice(i, i + g.batchSize);
    tasks.push({
      kind: 'generate',
      prompts: chunk.map((r) => renderPrompt(g.tokenizer, r.prompt, r.instruction)),
      options: { ...g.sampling, seeds: chunk.map((r) => r.seed), stopIds: g.stopIds },
      interventions: chunk.map((r) => r.interventions),
    });
  }
  const waiting = new Set<Promise<void>>();
  await runOrdered(g.executor, tasks, async (gen, b) => {
    gen.tokens.forEach((ids, j) => {
      const index = b * g.batchSize + j;
      const row = rows[index];
      const response = g.tokenizer.decode(ids, { skipSpecialTokens: true }).trim();
      const p: Promise<void> = g.judge
        .judge({ prompt: row.prompt, response, featureLabel: row.featureLabel })
        .then((judge) => onJudged(index, { response, judge }))
        .finally(() => waiting.delete(p));
      p.catch(() => {}); // surfaced by the awaits below; this only keeps an early failure from going unhandled
      waiting.add(p);
    });
    while (waiting.size > 4 * g.batchSize) await Promise.race(waiting);
  });
  await Promise.all(waiting);
}
