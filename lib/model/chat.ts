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
  /** Further template variables (transformers' `**kwargs` to apply_chat_template), e.g. `date_string`. */
  variables?: Record<string, unknown>;
}

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
  try {
    return compiled(source.chatTemplate).render({
      ...source.specialTokens,
      ...options.variables,
      messages: all,
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
