// Capture input: a JSONL of samples, each a conversation (or a prompt/response pair) with a condition
// label and optional character spans inside the last message.
import { existsSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { jsonlRecords } from '../io/lines.ts';
import { readTextFile } from '../io/text.ts';
import { type ChatMessage, validateMessages } from '../model/chat.ts';
import { shown } from '../io/json.ts';

export interface CaptureSample {
  id: string;
  messages: ChatMessage[];
  condition: string;
  prompt_id: string;
  response_id: string | null;
  /** name → [start, end) in code points of the last message's content (what Python tools write). */
  spans: Record<string, [number, number]>;
}

/**
 * Each line is `{id, messages:[{role, content}], condition, spans?, prompt_id?, response_id?}` or the pair form
 * `{id, prompt, response, condition, ...}` (a user turn and an assistant turn).
 */
export function parseSample(value: unknown, where: string): CaptureSample {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`${where}: expected a JSON object`);
  const v = value as Record<string, unknown>;
  const str = (key: string, required: boolean): string | null => {
    if (v[key] === undefined || v[key] === null) {
      if (required) throw new InputError(`${where}: field ${key} is missing`);
      return null;
    }
    if (typeof v[key] !== 'string')
      throw new InputError(`${where}: field ${key} must be a string, found ${shown(v[key])}`);
    return v[key] as string;
  };
  const id = str('id', true)!;
  let messages: ChatMessage[];
  if (v.messages !== undefined) messages = validateMessages(v.messages, `${where}: messages`);
  else if (v.prompt !== undefined && v.response !== undefined) {
    messages = [
      { role: 'user', content: str('prompt', true)! },
      { role: 'assistant', content: str('response', true)! },
    ];
  } else throw new InputError(`${where}: give either messages or prompt and response`);
  if (messages.length === 0) throw new InputError(`${where}: messages is empty`);
  const spans: Record<string, [number, number]> = Object.create(null); // names are the input's (__proto__ too)
  if (v.spans !== undefined) {
    if (typeof v.spans !== 'object' || v.spans === null)
      throw new InputError(`${where}: spans must be an object of name → [start, end]`);
    for (const [name, span] of Object.entries(v.spans)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || ['span', 'sample'].includes(name)) {
        throw new InputError(`${where}: span name "${name}" must be an identifier (and not span or sample)`);
      }
      spans[name] = span as [number, number];
    }
  }
  return {
    id,
    messages,
    condition: str('condition', true)!,
    prompt_id: str('prompt_id', false) ?? id,
    response_id: str('response_id', false),
    spans,
  };
}

export function readSamples(path: string): CaptureSample[] {
  if (!existsSync(path)) throw new InputError(`${path}: file not found`);
  const samples: CaptureSample[] = [];
  const seen = new Set<string>();
  for (const { value, where } of jsonlRecords(readTextFile(path, '--samples'), path)) {
    const s = parseSample(value, where);
    if (seen.has(s.id)) throw new InputError(`${where}: duplicate id ${s.id}`);
    seen.add(s.id);
    samples.push(s);
  }
  if (samples.length === 0) throw new InputError(`${path}: no samples`);
  return samples;
}
