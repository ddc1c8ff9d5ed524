import { InputError } from '../errors.ts';
import { renderChat, type ChatMessage, type RenderOptions } from './chat.ts';
import type { Offset, Tokenizer } from './tokenizer.ts';
import { shown } from '../io/json.ts';

/** [start, end) range. */
export type Span = [number, number];

export interface ChatSpanOptions extends RenderOptions {
  /**
   * Unit of the character spans given for the last message's content: 'codepoint' (Python string
   * indices, the default, as files written by Python tools use) or 'utf16' (JavaScript string indices).
   */
  spanUnit?: 'codepoint' | 'utf16';
}

export interface ChatSpans {
  /** The rendered conversation and its tokens, exactly as applyChatTemplate encodes it. */
  text: string;
  ids: number[];
  /** Per token, UTF-16 [start, end) in `text`. */
  offsets: Offset[];
  /** Where the last message's content (as the template kept it, e.g. trimmed) lies in `text`, UTF-16. */
  contentChars: Span;
  /** Token span [start, end) of the last message's content: the response span. */
  response: Span;
  /** Per named span: its UTF-16 range in `text`, and its token span [start, end). */
  chars: Record<string, Span>;
  tokens: Record<string, Span>;
}

/** A private-use character stands in for the content to find where the template puts it. */
const MARK = '\uE000';

/**
 * Token span [start, end) of the character range [charStart, charEnd): every token whose
 * character range overlaps it (so a token straddling a boundary belongs to the span). Throws if
 * no token overlaps.
 */
export function tokenSpan(offsets: readonly Offset[], charStart: number, charEnd: number): Span {
  let first = -1;
  let last = -1;
  offsets.forEach(([s, e], i) => {
    if (s < charEnd && e > charStart) {
      if (first < 0) first = i;
      last = i;
    }
  });
  if (first < 0) throw new InputError(`no token overlaps characters [${charStart}, ${charEnd})`);
  return [first, last + 1];
}

function codePointToUtf16(text: string, index: number): number {
  let unit = 0;
  let cp = 0;
  for (const ch of text) {
    if (cp === index) return unit;
    unit += ch.length;
    cp += 1;
  }
  if (cp === index) return unit;
  throw new InputError(`span index ${index} is past the end of the content (${cp} code points)`);
}

/** Where the template puts the last message's content: the rendered prefix/suffix around it. */
function contentPlacement(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  text: string,
  options: RenderOptions,
) {
  const marked = [...messages.slice(0, -1), { ...messages[messages.length - 1], content: MARK }];
  const withMark = renderChat(tokenizer, marked, options);
  const at = withMark.indexOf(MARK);
  if (at < 0 || withMark.indexOf(MARK, at + 1) >= 0) {
    throw new InputError(
      'chat template: the last message content is not rendered exactly once; spans cannot be located',
    );
  }
  const before = withMark.slice(0, at);
  const after = withMark.slice(at + MARK.length);
  if (!text.startsWith(before) || !text.endsWith(after) || text.length < before.length + after.length) {
    throw new InputError(
      'chat template: the text around the last message depends on its content; spans cannot be located',
    );
  }
  return { start: before.length, end: text.length - after.length };
}

/**
 * Renders `messages` with the chat template and maps the last message's content, and named
 * character spans inside it, to token spans through the tokenizer's offsets. The template may
 * trim the content; anything else it does to the content is an error, as is a span that lies
 * wholly in trimmed whitespace (a span partly in it is clipped to the kept text).
 */
export function locateChatSpans(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  spans: Record<string, Span> = {},
  options: ChatSpanOptions = {},
): ChatSpans {
  const text = renderChat(tokenizer, messages, options);
  const content = messages[messages.length - 1].content;
  const place = contentPlacement(tokenizer, messages, text, options);
  const kept = text.slice(place.start, place.end);
  const lead = content.indexOf(kept);
  const trimmedOnly =
    lead >= 0 && /^\s*$/u.test(content.slice(0, lead)) && /^\s*$/u.test(content.slice(lead + kept.length));
  if (!trimmedOnly || kept.length === 0) {
    throw new InputError(
      'chat template: the rendered last message is not its content (or its trimmed content); spans cannot be located',
    );
  }
  const enc = tokenizer.encode(text, { addSpecialTokens: false });
  const result: ChatSpans = {
    text,
    ids: enc.ids,
    offsets: enc.offsets,
    contentChars: [place.start, place.end],
    response: tokenSpan(enc.offsets, place.start, place.end),
    // null prototypes: span names come from the input (a span named __proto__ must stay a span)
    chars: Object.create(null),
    tokens: Object.create(null),
  };
  for (const [name, span] of Object.entries(spans)) {
    const valid =
      Array.isArray(span) && span.length === 2 && span.every(Number.isInteger) && span[0] >= 0 && span[0] < span[1];
    if (!valid)
      throw new InputError(`spans.${name}: expected [start, end) with 0 <= start < end, found ${shown(span)}`);
    const [s, e] =
      options.spanUnit === 'utf16' ? span : [codePointToUtf16(content, span[0]), codePointToUtf16(content, span[1])];
    if (e > content.length) throw new InputError(`spans.${name}: end ${span[1]} is past the end of the content`);
    const from = Math.max(s, lead);
    const to = Math.min(e, lead + kept.length);
    if (from >= to)
      throw new InputError(`spans.${name}: [${span[0]}, ${span[1]}) lies in whitespace the chat template trims`);
    const chars: Span = [place.start + from - lead, place.start + to - lead];
    result.chars[name] = chars;
    result.tokens[name] = tokenSpan(enc.offsets, chars[0], chars[1]);
  }
  return result;
}
