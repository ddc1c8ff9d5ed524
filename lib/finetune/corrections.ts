// Correction phrases: what a self-correction example says between the distraction and the on-topic answer.
import { existsSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { readItemLines } from '../io/text.ts';

/**
 * The default phrases: varied in wording and length, each one a sentence that explicitly starts over (so
 * the heuristic judge, lib/judge/heuristic.ts, and the paper's judge prompt count a new attempt there).
 */
export const DEFAULT_CORRECTIONS = [
  'Wait, that is not what you asked about. Let me get back to the question.',
  'Sorry, I drifted off topic.',
  'Hold on, I got sidetracked.',
  'Oops, that was unrelated to your question.',
  'Let me return to your question.',
  'Actually, wait, I went off track there.',
  'I digress. Back to the question.',
  'Hmm, I wandered off topic. Let me refocus on what you asked.',
  'Wait, let me start over.',
  'Apologies for the digression; let me get back to the question.',
  'Oh wait, I got a bit carried away.',
  'Let me go back to what you actually asked.',
];

/** One phrase per non-blank line of a file. */
export function readCorrections(path: string): string[] {
  if (!existsSync(path)) throw new InputError(`--corrections ${path}: file not found`);
  const phrases = readItemLines(path, '--corrections', 'phrase');
  if (!phrases.length) throw new InputError(`--corrections ${path}: no phrases (expected one per line)`);
  return phrases;
}
