import { Template } from '@huggingface/jinja';
import { InputError } from '../errors.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

/** What rendering needs: the template and the named special tokens (a loaded Tokenizer has both). */
export interface ChatTemplateSource {
  chatTemplate: string | null;
  specialTokens: Record<string, string>;
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

function compiled(source: string): Template {
  let t = templates.get(source);
  if (!t) {
    t = new Template(source);
    templates.set(source, t);
  }
  return t;
}

export function validateMessages(messages: unknown, where = 'messages'): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InputError(`${where}: expected a non-empty array of {role, content}, found ${JSON.stringify(messages)?.slice(0, 80)}`);
  }
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new InputError(`${where}[${i}]: expected {"role": string, "content": string}, found ${JSON.stringify(m)?.slice(0, 80)}`);
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
export function renderChat(source: ChatTemplateSource, messages: readonly ChatMessage[], options: RenderOptions = {}): string {
  if (source.chatTemplate === null) {
    throw new InputError('tokenizer_config.json: no chat_template (and no chat_template.jinja); this model has no chat format');
  }
  const all = options.system === undefined ? [...messages] : [{ role: 'system', content: options.system }, ...messages];
  validateMessages(all);
  const template = source.chatTemplate;
  if (!options.continueFinalMessage) return render(template, source.specialTokens, all, options);
  if (options.addGenerationPrompt) {
    throw new InputError('chat options: continueFinalMessage and addGenerationPrompt cannot both be set');
  }
  const last = all[all.length - 1];
  const rendered = render(template, source.specialTokens, [...all.slice(0, -1), { ...last, content: last.content + CONTINUE_TAG }], options);
  const tag = CONTINUE_TAG.trim();
  const at = rendered.lastIndexOf(tag);
  if (at < 0 || !rendered.includes(last.content.trim())) {
    throw new InputError('chat template: the final message does not appear in the rendered chat; it cannot be continued');
  }
  // A template that trims the content also trimmed the tag's space: then trim what precedes it too.
  return rendered.startsWith(CONTINUE_TAG, at) ? rendered.slice(0, at) : rendered.slice(0, at).trimEnd();
}

function render(template: string, specialTokens: Record<string, string>, messages: ChatMessage[], options: RenderOptions): string {
  try {
    return compiled(template).render({
      ...specialTokens,
      ...options.variables,
      messages,
      tools: null,
      documents: null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  } catch (err) {
    throw new InputError(`chat template: ${(err as Error).message}`);
  }
}

/**
 * Token ids of the rendered conversation, as transformers' apply_chat_template(tokenize=True): the
 * rendered text is encoded without adding special tokens (the template writes BOS itself).
 */
export function applyChatTemplate(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: RenderOptions = {}): number[] {
  return tokenizer.encode(renderChat(tokenizer, messages, options), { addSpecialTokens: false }).ids;
}
