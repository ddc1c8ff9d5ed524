import { Interpreter, Template } from '@huggingface/jinja';
import { InputError } from '../errors.ts';
import type { Tokenizer } from './tokenizer.ts';
import { shown } from '../io/json.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

/** What rendering needs: the template and the named special tokens (a loaded Tokenizer has both). */
export interface ChatTemplateSource {
  chatTemplate: string | null;
  specialTokens: Record<string, string>;
  /** Where the template came from (named in errors). */
  chatTemplateFile?: string | null;
}

/**
 * Limits on rendering an untrusted template: `range()` lists of at most RANGE_MAX items in all per render
 * (transformers' sandboxed Jinja caps each call at 100,000; counting them together also stops ranges
 * nested in ranges), at most STEP_MAX node evaluations per render, no string longer than OUTPUT_MAX
 * characters and no list longer than ITEMS_MAX, and a budget on everything a render makes: TOTAL_CHARS
 * characters of strings and TOTAL_ITEMS list items in all (values only looked up, such as the messages, are
 * not counted again). So a template doubling a list or string through `namespace`, or keeping thousands of
 * long strings, stops at tens of megabytes instead of exhausting memory. Rendering a real chat template
 * takes a few thousand steps, rarely any range(), and makes a few times its output.
 */
const TEMPLATE_LIMITS = {
  RANGE_MAX: 100_000,
  STEP_MAX: 1_000_000,
  OUTPUT_MAX: 16 << 20,
  ITEMS_MAX: 1 << 20,
  TOTAL_CHARS: 64 << 20,
  TOTAL_ITEMS: 4 << 20,
};

class TemplateLimit extends Error {}

/** What the render under way may still do (null: not rendering through `render` below, no limit applied). */
let left: { steps: number; chars: number; items: number } | null = null;

/** Nodes whose value is looked up, not made: it was counted when it was made (or is an input). */
const LOOKUP = new Set(['Identifier', 'MemberExpression', 'Ternary']);

const evaluate = Interpreter.prototype.evaluate;
// Counting hook around the interpreter's one dispatch point: every node evaluation passes here.
Interpreter.prototype.evaluate = function (this: Interpreter, ...args: Parameters<Interpreter['evaluate']>) {
  if (left === null) return evaluate.apply(this, args);
  if (--left.steps < 0)
    throw new TemplateLimit(`rendering took more than ${TEMPLATE_LIMITS.STEP_MAX} steps (a loop without end?)`);
  const out = evaluate.apply(this, args);
  const value = out?.value as unknown;
  const made = !LOOKUP.has((args[0] as { type?: string })?.type ?? '');
  if (typeof value === 'string') {
    if (value.length > TEMPLATE_LIMITS.OUTPUT_MAX)
      throw new TemplateLimit(`rendering made a string of more than ${TEMPLATE_LIMITS.OUTPUT_MAX} characters`);
    if (made && (left.chars -= value.length) < 0)
      throw new TemplateLimit(`rendering made more than ${TEMPLATE_LIMITS.TOTAL_CHARS} characters of strings in all`);
  } else if (Array.isArray(value)) {
    if (value.length > TEMPLATE_LIMITS.ITEMS_MAX)
      throw new TemplateLimit(`rendering made a list of more than ${TEMPLATE_LIMITS.ITEMS_MAX} items`);
    if (made && (left.items -= value.length) < 0)
      throw new TemplateLimit(`rendering made more than ${TEMPLATE_LIMITS.TOTAL_ITEMS} list items in all`);
  }
  return out;
};

/** range() items left in the render under way. */
let rangeLeft = 0;

/** Refuses a range() call past the render's RANGE_MAX items, before the list is built. */
function checkRange(args: unknown[]): void {
  const [a, b, step = 1] = args as number[];
  const [start, stop] = b === undefined ? [0, a] : [a, b];
  const n = typeof step === 'number' && step !== 0 ? Math.max(0, Math.ceil((stop - start) / step)) : 0;
  rangeLeft -= n;
  if (rangeLeft < 0)
    throw new TemplateLimit(`range() of ${n} items goes past ${TEMPLATE_LIMITS.RANGE_MAX} range items in one render`);
}

/** A value the template's scope holds (the library exports its type only through Environment). */
type TemplateValue = Parameters<Interpreter['global']['setVariable']>[1];

type RuntimeFunction = {
  value: (args: { value: unknown }[], scope: unknown) => unknown;
  constructor: new (f: RuntimeFunction['value']) => unknown;
};
const run = Interpreter.prototype.run;
// Each of our renders gets a range() that checks its size first (the library's builds any list asked for).
Interpreter.prototype.run = function (this: Interpreter, ...args: Parameters<Interpreter['run']>) {
  if (left !== null) {
    const range = this.global.lookupVariable('range') as unknown as RuntimeFunction;
    this.global.setVariable(
      'range',
      new range.constructor((a, scope) => {
        checkRange(a.map((x) => x.value));
        return range.value(a, scope);
      }) as TemplateValue,
    );
  }
  return run.apply(this, args);
};

let warnedSpecial = false;

/** Special tokens typed into a message are encoded as the real tokens (as in transformers): warn once. */
function warnSpecialTokens(source: ChatTemplateSource, messages: readonly ChatMessage[]): void {
  if (warnedSpecial) return;
  const specials = [...new Set(Object.values(source.specialTokens))].filter((s) => s.length > 1);
  for (const m of messages) {
    const hit = specials.find((s) => m.content.includes(s));
    if (hit) {
      warnedSpecial = true;
      console.error(
        `warning: a ${m.role} message contains the special token ${JSON.stringify(hit)}; it is encoded as that special token, not as text (as transformers does)`,
      );
      return;
    }
  }
}

export interface RenderOptions {
  /** Append the assistant header so the model writes the next turn. Default false, as in transformers. */
  addGenerationPrompt?: boolean;
  /** Convenience: prepend `{role: "system", content: system}` to the messages. */
  system?: string;
  /**
   * Leave the last message open so the model continues it (transformers' continue_final_message):
   * the text is cut right after that message's content. Not combinable with addGenerationPrompt.
   */
  continueFinalMessage?: boolean;
  /** Further template variables (transformers' `**kwargs` to apply_chat_template), e.g. `date_string`. */
  variables?: Record<string, unknown>;
}

/** transformers' marker for the end of the message to continue. */
const CONTINUE_TAG = 'CONTINUE_FINAL_MESSAGE_TAG ';

const templates = new Map<string, Template>();

function compiled(source: string, where: string): Template {
  let t = templates.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new InputError(`${where}: chat template does not parse: ${(err as Error).message}`);
    }
    templates.set(source, t);
  }
  return t;
}

export function validateMessages(messages: unknown, where = 'messages'): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InputError(`${where}: expected a non-empty array of {role, content}, found ${shown(messages, 80)}`);
  }
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new InputError(`${where}[${i}]: expected {"role": string, "content": string}, found ${shown(m, 80)}`);
    }
  });
  return messages as ChatMessage[];
}

/**
 * Renders a conversation with the model's chat template, passing what transformers'
 * apply_chat_template passes: messages, add_generation_prompt, tools/documents (none), the named
 * special tokens (bos_token, eos_token, …); raise_exception and strftime_now are jinja globals.
 * Templates are rendered with trim_blocks and lstrip_blocks, as in transformers.
 */
export function renderChat(
  source: ChatTemplateSource,
  messages: readonly ChatMessage[],
  options: RenderOptions = {},
): string {
  if (source.chatTemplate === null) {
    throw new InputError(
      'tokenizer_config.json: no chat_template (and no chat_template.jinja); this model has no chat format',
    );
  }
  const all = options.system === undefined ? [...messages] : [{ role: 'system', content: options.system }, ...messages];
  validateMessages(all);
  warnSpecialTokens(source, all);
  const template = source.chatTemplate;
  const where = source.chatTemplateFile ?? 'chat template';
  if (!options.continueFinalMessage) return render(template, where, source.specialTokens, all, options);
  if (options.addGenerationPrompt) {
    throw new InputError('chat options: continueFinalMessage and addGenerationPrompt cannot both be set');
  }
  const last = all[all.length - 1];
  const rendered = render(
    template,
    where,
    source.specialTokens,
    [...all.slice(0, -1), { ...last, content: last.content + CONTINUE_TAG }],
    options,
  );
  const tag = CONTINUE_TAG.trim();
  const at = rendered.lastIndexOf(tag);
  if (at < 0 || !rendered.includes(last.content.trim())) {
    throw new InputError(
      'chat template: the final message does not appear in the rendered chat; it cannot be continued',
    );
  }
  // A template that trims the content also trimmed the tag's space: then trim what precedes it too.
  return rendered.startsWith(CONTINUE_TAG, at) ? rendered.slice(0, at) : rendered.slice(0, at).trimEnd();
}

function render(
  template: string,
  where: string,
  specialTokens: Record<string, string>,
  messages: ChatMessage[],
  options: RenderOptions,
): string {
  try {
    const t = compiled(template, where);
    left = { steps: TEMPLATE_LIMITS.STEP_MAX, chars: TEMPLATE_LIMITS.TOTAL_CHARS, items: TEMPLATE_LIMITS.TOTAL_ITEMS };
    rangeLeft = TEMPLATE_LIMITS.RANGE_MAX;
    return t.render({
      ...specialTokens,
      ...options.variables,
      messages,
      tools: null,
      documents: null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  } catch (err) {
    const what = err instanceof TemplateLimit ? 'over the rendering limits: ' : '';
    throw new InputError(`${where}: chat template ${what}${(err as Error).message}`);
  } finally {
    left = null;
  }
}

/**
 * Token ids of the rendered conversation, as transformers' apply_chat_template(tokenize=True): the
 * rendered text is encoded without adding special tokens (the template writes BOS itself).
 */
export function applyChatTemplate(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  options: RenderOptions = {},
): number[] {
  return tokenizer.encode(renderChat(tokenizer, messages, options), { addSpecialTokens: false }).ids;
}
