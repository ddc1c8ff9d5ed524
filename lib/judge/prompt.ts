// The judge prompt: a template with placeholders, loaded once, identified by its sha256.
import { readFileSync } from 'node:fs';
import { sha256Text } from '../io/hash.ts';
import { readTextFile } from '../io/text.ts';
import { InputError, settingRef as ref } from '../errors.ts';
import type { JudgeInput } from './types.ts';

/** Placeholders a template may use; `{{prompt}}` and `{{response}}` are required. */
export const PLACEHOLDERS = ['prompt', 'response', 'feature_label'] as const;
const REQUIRED = ['prompt', 'response'];
const PLACEHOLDER_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export const DEFAULT_PROMPT_PATH = new URL('./default-prompt.txt', import.meta.url);

export interface JudgePrompt {
  template: string;
  /** sha256 (hex) of the template's UTF-8 bytes. */
  sha256: string;
  /** `builtin` or the file it was read from. */
  source: string;
}

/** Reads and checks a judge prompt template (the built-in one when no path is given). */
export function loadJudgePrompt(path?: string | null): JudgePrompt {
  const source = path ?? 'builtin';
  const template = path ? readTextFile(path, ref('judgePrompt')) : readFileSync(DEFAULT_PROMPT_PATH, 'utf8');
  const found = new Set([...template.matchAll(PLACEHOLDER_RE)].map((m) => m[1]));
  const unknown = [...found].filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown.length) {
    throw new InputError(
      `${source}: unknown placeholder ${unknown.map((n) => `{{${n}}}`).join(', ')} (expected only ${PLACEHOLDERS.map((n) => `{{${n}}}`).join(', ')})`,
    );
  }
  const missing = REQUIRED.filter((name) => !found.has(name));
  if (missing.length) {
    throw new InputError(`${source}: the judge prompt lacks ${missing.map((n) => `{{${n}}}`).join(' and ')}`);
  }
  return { template, sha256: sha256Text(template), source };
}

/** Fills the placeholders in one pass, so text inside the response is never itself substituted. */
export function renderJudgePrompt(template: string, input: JudgeInput): string {
  const values: Record<string, string> = {
    prompt: input.prompt,
    response: input.response,
    feature_label: input.featureLabel ?? 'unknown',
  };
  return template.replace(PLACEHOLDER_RE, (_, name: string) => values[name]);
}
