// The experiment's input files: prompts (one per line), given responses (keyed by prompt), latent labels.
import { existsSync } from 'node:fs';
import { InputError, SettingError, settingRef as ref } from '../errors.ts';
import { indexLabelRows } from './lines.ts';
import { readItemLines, readTextFile } from './text.ts';
import { shown } from './json.ts';

/** One prompt per non-empty line (UTF-8 text; a line past MAX_LINE_CHARS is refused before any tokenizing). */
export function readPrompts(path: string): string[] {
  if (!existsSync(path)) throw new InputError(`${path}: prompts file not found`);
  return checkPrompts(readItemLines(path, '--prompts', 'prompt'), path);
}

/** A prompt set (from `where`, a file or a list): at least 2, distinct. */
export function checkPrompts(prompts: string[], where: string): string[] {
  if (prompts.length < 2)
    throw new InputError(
      `${where}: found ${prompts.length} prompt(s); at least 2 are needed (no derangement of fewer exists)`,
    );
  if (new Set(prompts).size !== prompts.length) throw new InputError(`${where}: prompts must be distinct`);
  return prompts;
}

/** General text for the steering pool's "alive" test: one passage per non-blank line. */
export function readGeneralText(path: string): string[] {
  if (!existsSync(path)) throw new SettingError(`${ref('generalText')} ${path}: file not found`);
  const texts = readItemLines(path, ref('generalText'), 'passage');
  if (!texts.length) throw new SettingError(`${ref('generalText')} ${path}: no text (expected one passage per line)`);
  return texts;
}

/**
 * Responses keyed by prompt, from JSON `{prompt: response}`, the paper's `normal_responses.json`
 * (`{"prompts": [...], "normal_responses": {...}}`), or JSONL lines `{"prompt", "response"}`.
 */
export function readResponses(path: string, prompts: string[]): string[] {
  if (!existsSync(path)) throw new InputError(`${path}: responses file not found`);
  const text = readTextFile(path, '--responses');
  let map: Record<string, unknown>;
  try {
    const value = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new InputError(`${path}: expected a JSON object of prompt → response`);
    map = 'normal_responses' in value ? (value.normal_responses as Record<string, unknown>) : value;
    if (typeof map !== 'object' || map === null || Array.isArray(map))
      throw new InputError(
        `${path}: normal_responses: expected an object of prompt → response, found ${shown(map, 40)}`,
      );
  } catch (err) {
    if (err instanceof InputError) throw err;
    map = Object.create(null); // prompts are the keys: one reading "__proto__" must stay a prompt
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let row: { prompt?: unknown; response?: unknown };
      try {
        row = JSON.parse(line);
      } catch {
        throw new InputError(`${path}:${i + 1}: neither a JSON object nor JSONL of {"prompt", "response"}`);
      }
      if (typeof row.prompt !== 'string' || typeof row.response !== 'string')
        throw new InputError(`${path}:${i + 1}: fields prompt and response must be strings`);
      map[row.prompt] = row.response;
    });
  }
  return prompts.map((p) => {
    const r = Object.hasOwn(map, p) ? map[p] : undefined; // never an inherited "constructor" or "toString"
    if (typeof r !== 'string') throw new InputError(`${path}: no response (string) for prompt "${p}"`);
    if (!r.trim())
      throw new InputError(
        `${path}: the response for prompt "${p}" is empty (a response span needs at least one token)`,
      );
    return r;
  });
}

/** A CSV of `index,label` (a header row is allowed). */
export function readLabels(path: string): Map<number, string> {
  if (!existsSync(path)) throw new InputError(`${path}: labels file not found`);
  const labels = new Map<number, string>();
  for (const row of indexLabelRows(readTextFile(path, 'labels'), path))
    if (row.label !== null) labels.set(row.index, row.label);
  return labels;
}
