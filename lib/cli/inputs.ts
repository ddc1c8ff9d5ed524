// Flag parsing shared by several commands: token ids, chat files, interventions.
import { existsSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { readJson } from '../io/json.ts';
import { type ChatMessage, validateMessages } from '../model/chat.ts';

/** `1,2,3` → [1, 2, 3]; anything else is a usage error naming the flag. */
export function parseIds(text: string, flag = '--ids', vocabSize = Infinity): number[] {
  const ids = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new InputError(`${flag}: expected comma-separated non-negative integers, found "${text.slice(0, 200)}"`);
  }
  const outside = ids.find((n) => n >= vocabSize);
  if (outside !== undefined)
    throw new InputError(`${flag}: token id ${outside} is outside the model's vocabulary (0..${vocabSize - 1})`);
  return ids;
}

/** A JSON file holding `[{"role": ..., "content": ...}, ...]`. */
export function readChatFile(path: string): ChatMessage[] {
  if (!existsSync(path)) throw new InputError(`${path}: file not found`);
  return validateMessages(readJson(path), path);
}

/** Exactly one of the named flags must be given. */
export function requireOne<K extends string>(argv: { [k in K]?: unknown }, flags: K[]): K {
  const given = flags.filter((f) => argv[f] !== undefined);
  if (given.length !== 1) {
    throw new InputError(
      `give exactly one of ${flags.map((f) => `--${f}`).join(', ')}${given.length ? ` (found ${given.map((f) => `--${f}`).join(', ')})` : ''}`,
    );
  }
  return given[0];
}
