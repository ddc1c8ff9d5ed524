// One training example as axolotl's `input_output` segments: the conversation rendered with the target model's
// chat template, cut where the labels change. axolotl tokenizes each segment on its own (no special tokens
// added) and concatenates, so the cuts sit at token boundaries: the segments' tokens are the conversation's.
import { InputError } from '../errors.ts';
import type { ChatMessage } from '../model/chat.ts';
import { locateChatSpans } from '../model/spans.ts';
import type { Tokenizer } from '../model/tokenizer.ts';

/** axolotl's segment: `label` false = in the context only (loss-masked), true = trained on. */
export interface Segment {
  label: boolean;
  text: string;
}

export interface ExampleText {
  prompt: string;
  answer: string;
  /** With a distraction and a correction, a self-correction example; without, a normal response. */
  selfCorrection?: { distraction: string; correction: string };
  system?: string | null;
}

export interface RenderedExample {
  segments: Segment[];
  /** Tokens of the whole conversation, and of the trained (label true) segments. */
  tokens: number;
  trainedTokens: number;
  /** Whether tokenizing the segments one by one gives the conversation's tokens (axolotl's view equals inference's). */
  boundariesClean: boolean;
}

/** The assistant's reply: distraction, correction phrase and answer, one space apart; or the answer alone. */
export function replyText(e: ExampleText): string {
  const s = e.selfCorrection;
  return s ? `${s.distraction.trim()} ${s.correction.trim()} ${e.answer.trim()}` : e.answer.trim();
}

/**
 * Segments of one example: [prompt (system, user turn, assistant header): false] [distraction: false]
 * [correction + answer + end of turn: true] for a self-correction example, [prompt: false] [answer + end of
 * turn: true] for a normal one. Their concatenation is the chat-rendered conversation.
 */
export function renderExample(tokenizer: Tokenizer, e: ExampleText): RenderedExample {
  const messages: ChatMessage[] = [
    ...(e.system ? [{ role: 'system', content: e.system }] : []),
    { role: 'user', content: e.prompt },
    { role: 'assistant', content: replyText(e) },
  ];
  const distraction = e.selfCorrection?.distraction.trim();
  if (distraction === '') throw new InputError(`an empty distraction for prompt "${e.prompt}"`);
  const located = locateChatSpans(tokenizer, messages, distraction ? { distraction: [0, distraction.length] } : {}, {
    spanUnit: 'utf16',
  });
  const { text } = located;
  const cuts = [0, located.contentChars[0], ...(distraction ? [located.chars.distraction[1]] : []), text.length];
  const labels = distraction ? [false, false, true] : [false, true];
  const segments = labels.map((label, i) => ({ label, text: text.slice(cuts[i], cuts[i + 1]) }));
  const pieces = segments.map((s) => tokenizer.encode(s.text, { addSpecialTokens: false }).ids);
  const joined = pieces.flat();
  const boundariesClean = joined.length === located.ids.length && joined.every((id, i) => id === located.ids[i]);
  const trainedTokens = pieces.reduce((n, p, i) => n + (segments[i].label ? p.length : 0), 0);
  return { segments, tokens: joined.length, trainedTokens, boundariesClean };
}
